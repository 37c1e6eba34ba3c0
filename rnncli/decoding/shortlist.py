"""Lexical vocabulary shortlists for decoding (as Marian's and CTranslate2's).

Beam search spends most of its time in the output layer: hidden x full target vocabulary,
for every hypothesis at every step. Yet the words of a sentence's translation come from a
small set: the target language's most frequent pieces plus the likely translations of
the source pieces. Training records, per source piece, the target pieces that co-occur
with it most strongly (Dice coefficient over sentence pairs), and the target pieces by
frequency. Decoding a batch then scores only the union of the frequent pieces and the
candidates of the batch's source pieces, renormalising the softmax over that set.

This is an approximation, hence opt-in (`--shortlist`): a piece outside the set cannot be
produced. The benchmark measures its BLEU against the full vocabulary.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from rnncli.atomic import atomic_path
from rnncli.decoding.greedy import Hypothesis

LEXICON_FILE = "shortlist.safetensors"
SPECIAL_IDS = 4           # PAD, UNK, BOS, EOS: always in the set, at their own positions
STORED_PER_SOURCE = 50    # candidates kept per source piece in the checkpoint
FREQUENT, PER_SOURCE = 128, 16   # decoding defaults: on Multi30k, BLEU within ~0.2 of the full vocabulary


@dataclass
class Lexicon:
    frequent: torch.Tensor     # (V_tgt,) target ids, most frequent first
    candidates: torch.Tensor   # (V_src, STORED_PER_SOURCE) target ids, strongest first

    def vocabulary(self, src: torch.Tensor, frequent: int = FREQUENT,
                   per_source: int = PER_SOURCE) -> torch.Tensor:
        """The sorted target ids a batch of source ids (any shape, PAD included) may produce."""
        parts = [torch.arange(SPECIAL_IDS), self.frequent[:frequent],
                 self.candidates[src.reshape(-1).cpu().unique(), :per_source].reshape(-1)]
        return torch.cat(parts).unique()   # sorted, so ids 0..3 keep positions 0..3

    def save(self, directory: Path) -> None:
        with atomic_path(Path(directory) / LEXICON_FILE) as tmp:
            save_file({"frequent": self.frequent.int().contiguous(),
                       "candidates": self.candidates.int().contiguous()}, str(tmp))

    @classmethod
    def load(cls, directory: Path) -> "Lexicon":
        tensors = load_file(str(Path(directory) / LEXICON_FILE))
        return cls(tensors["frequent"].long(), tensors["candidates"].long())


def build_lexicon(src: list[list[int]], tgt: list[list[int]], src_vocab: int, tgt_vocab: int,
                  keep: int = STORED_PER_SOURCE) -> Lexicon:
    """Co-occurrence statistics of aligned id sequences -> the Lexicon.

    Dice(s, t) = 2 c(s, t) / (c(s) + c(t)), with c counting sentence pairs: unlike
    P(t | s) it does not rank the target language's commonest pieces first for every
    source piece (those come from the frequency list instead)."""
    pair_keys, src_sets, tgt_sets = [], [], []
    for s, t in zip(src, tgt):
        s_set, t_set = np.unique(np.asarray(s, dtype=np.int64)), np.unique(np.asarray(t, dtype=np.int64))
        src_sets.append(s_set)
        tgt_sets.append(t_set)
        pair_keys.append((s_set[:, None] * tgt_vocab + t_set[None, :]).ravel())
    keys, together = np.unique(np.concatenate(pair_keys), return_counts=True)
    src_count = np.bincount(np.concatenate(src_sets), minlength=src_vocab)
    tgt_count = np.bincount(np.concatenate(tgt_sets), minlength=tgt_vocab)
    s_of, t_of = keys // tgt_vocab, keys % tgt_vocab
    dice = 2.0 * together / (src_count[s_of] + tgt_count[t_of])
    dice[t_of < SPECIAL_IDS] = -1.0                  # specials are always in the set anyway
    order = np.lexsort((t_of, -dice, s_of))          # by source, strongest first, ties by id
    s_sorted, t_sorted = s_of[order], t_of[order]
    first = np.searchsorted(s_sorted, np.arange(src_vocab))
    rank = np.arange(len(order)) - first[s_sorted]
    kept = rank < keep
    candidates = np.zeros((src_vocab, keep), dtype=np.int64)   # PAD fills unused slots
    candidates[s_sorted[kept], rank[kept]] = t_sorted[kept]
    token_count = np.bincount(np.fromiter(itertools.chain.from_iterable(tgt), dtype=np.int64),
                              minlength=tgt_vocab)
    frequent = np.argsort(-token_count, kind="stable")
    return Lexicon(torch.from_numpy(frequent), torch.from_numpy(candidates))


class ShortlistedModel:
    """A model whose decoding steps score only `vocabulary` (sorted target ids, 0..3 first).

    The search sees positions in `vocabulary` as its token ids: the specials keep theirs,
    and `token_ids` maps finished hypotheses back to real ids."""

    def __init__(self, model, vocabulary: torch.Tensor):
        if not torch.equal(vocabulary[:SPECIAL_IDS].cpu(), torch.arange(SPECIAL_IDS)):
            raise ValueError("a shortlist vocabulary must start with the special ids 0..3")
        self.model = model
        self.vocabulary = vocabulary
        self.output = model.output_rows(vocabulary)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor):
        return self.model.encode(src, src_lengths)

    def step(self, prev: torch.Tensor, state):
        return self.model.step(self.vocabulary[prev], state, self.output)

    def token_ids(self, hyps: list[list[Hypothesis]]) -> list[list[Hypothesis]]:
        ids = self.vocabulary.tolist()
        for sentence in hyps:
            for hyp in sentence:
                hyp.tokens = [ids[t] for t in hyp.tokens]
        return hyps
