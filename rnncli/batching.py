"""Batches: padding, length buckets, token budgets, and order-restoring inference batches.

Training batches come from length-sorted buckets so a batch holds sequences of similar
length (little padding), filled up to a token budget; the batches themselves are shuffled
with a generator seeded by (seed, epoch), so an epoch's batches are a pure function of the
epoch, which exact resume relies on. Inference sorts by length and gives back the original
positions so callers can restore input order.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import torch


def pad(sequences: Sequence[Sequence[int]], pad_id: int = 0,
        min_len: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad id lists -> (ids (B, T) long, lengths (B,) long). T >= min_len."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    width = max(min_len, int(lengths.max()) if len(sequences) else 0)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    for row, seq in enumerate(sequences):
        if len(seq):
            ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return ids, lengths


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The one source of shuffling randomness: a pure function of (seed, epoch)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def budget_batches(lengths: Sequence[int], max_tokens: int | None = None,
                   max_sentences: int | None = None, order: Sequence[int] | None = None) -> list[list[int]]:
    """Group example indices (taken in `order`) into batches limited by padded tokens and count.

    A batch's cost is its size times its longest member (what padding really costs).
    A single example longer than the budget still gets a batch of its own.
    """
    if max_tokens is None and max_sentences is None:
        raise ValueError("give max_tokens, max_sentences or both")
    order = list(range(len(lengths))) if order is None else list(order)
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        length = max(1, lengths[index])
        new_longest = max(longest, length)
        too_many = max_sentences is not None and len(current) + 1 > max_sentences
        too_big = max_tokens is not None and new_longest * (len(current) + 1) > max_tokens
        if current and (too_many or too_big):
            batches.append(current)
            current, new_longest = [], length
        current.append(index)
        longest = new_longest
    if current:
        batches.append(current)
    return batches


def bucketed_batches(lengths: Sequence[int], seed: int, epoch: int, max_tokens: int | None = None,
                     max_sentences: int | None = None, bucket_size: int = 100) -> list[list[int]]:
    """Training batches: shuffle, sort within buckets of `bucket_size` batches' worth of
    examples by length, cut into budgeted batches, shuffle the batches. Deterministic in
    (seed, epoch)."""
    generator = epoch_generator(seed, epoch)
    shuffled = torch.randperm(len(lengths), generator=generator).tolist()
    per_batch = max_sentences or max(1, (max_tokens or 1) // max(1, int(sum(lengths) / max(1, len(lengths)))))
    chunk = max(1, per_batch * bucket_size)
    ordered: list[int] = []
    for start in range(0, len(shuffled), chunk):
        bucket = shuffled[start:start + chunk]
        ordered.extend(sorted(bucket, key=lambda i: lengths[i]))
    batches = budget_batches(lengths, max_tokens, max_sentences, ordered)
    permutation = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in permutation]


def equal_key_batches(keys: Sequence[int], lengths: Sequence[int], seed: int, epoch: int,
                      max_tokens: int | None = None, max_sentences: int | None = None) -> list[list[int]]:
    """Training batches in which every example has the same key (e.g. its source length).

    Examples are shuffled, sorted by (key, length) and cut into budgeted batches that never
    cross a key boundary; the batches are then shuffled. Deterministic in (seed, epoch).
    Translation keys batches by source length: a batch with no source padding runs its
    bidirectional encoder unpacked, through oneDNN's fused RNN on CPU, and its attention
    has nothing to mask. fairseq batches the same way (sorted by length, batches shuffled).
    """
    generator = epoch_generator(seed, epoch)
    shuffled = torch.randperm(len(lengths), generator=generator).tolist()
    ordered = sorted(shuffled, key=lambda i: (keys[i], lengths[i]))  # stable: ties stay shuffled
    batches: list[list[int]] = []
    for _, group in itertools.groupby(ordered, key=lambda i: keys[i]):
        batches.extend(budget_batches(lengths, max_tokens, max_sentences, list(group)))
    permutation = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in permutation]


def inference_batches(lengths: Sequence[int], max_sentences: int,
                      max_tokens: int | None = None) -> list[list[int]]:
    """Indices sorted by length (longest first) cut into batches; callers write results
    back to `index` positions, which restores input order."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return budget_batches(lengths, max_tokens, max_sentences, order)


