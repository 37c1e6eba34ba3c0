"""Tagging data: vocabularies, encoding, and batches with per-batch distinct-word chars.

Words are normalised for the word embedding (digits -> 0 and, by default, lowercased);
characters see the word as written, so case survives through the character features.
Each batch carries the characters of its distinct words only (chars (U, C) and an index
(B, T) into them): a word repeated in the batch is encoded once.

Rare-word replacement (Lample et al., 2016): in training, a word seen once in the training
data becomes <unk> with probability `word_dropout`, drawn from the epoch's generator, so
the model learns what to do with unknown words and an epoch stays a pure function of
(seed, epoch).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import torch

from rnncli.tokenizer import SPECIALS, UNK_ID, CharTokenizer, WordTokenizer, most_frequent

DIGITS = re.compile(r"\d")
MAX_WORD_CHARS = 40  # longer tokens (URLs, junk) are cut: their tail adds cost, not signal


def normalise_word(word: str, lowercase: bool = True) -> str:
    word = DIGITS.sub("0", word)
    return word.lower() if lowercase else word


def build_vocabularies(sentences: Sequence[Sequence[str]], min_freq: int, vocab_size: int | None,
                       lowercase: bool) -> tuple[WordTokenizer, CharTokenizer]:
    counts = Counter(normalise_word(w, lowercase) for words in sentences for w in words)
    kept = Counter({w: c for w, c in counts.items() if c >= min_freq})
    words = WordTokenizer(list(SPECIALS) + most_frequent(kept, vocab_size))
    chars = CharTokenizer.train((w for s in sentences for w in s))
    return words, chars


@dataclass
class Encoded:
    """Sentences as ids. types index `type_chars`, one row per distinct raw word (row 0 is
    the padding word)."""

    words: list[list[int]]
    types: list[list[int]]
    type_chars: torch.Tensor        # (N, C) long
    type_lengths: torch.Tensor      # (N,) long, >= 1
    tags: list[list[int]] | None = None
    rare: list[list[bool]] | None = None

    @property
    def lengths(self) -> list[int]:
        return [len(w) for w in self.words]


def encode(sentences: Sequence[Sequence[str]], words: WordTokenizer, chars: CharTokenizer,
           lowercase: bool, tags: Sequence[Sequence[str]] | None = None,
           label_index: dict[str, int] | None = None, rare_words: set[str] | None = None) -> Encoded:
    type_index: dict[str, int] = {"": 0}
    type_rows: list[list[int]] = [[0]]
    word_ids, type_ids = [], []
    for sentence in sentences:
        word_ids.append(words.encode_words([normalise_word(w, lowercase) for w in sentence]))
        row = []
        for word in sentence:
            index = type_index.get(word)
            if index is None:
                index = type_index[word] = len(type_rows)
                type_rows.append(chars.encode(word[:MAX_WORD_CHARS]) or [UNK_ID])
            row.append(index)
        type_ids.append(row)
    type_chars, type_lengths = pad(type_rows, 0)
    tag_ids = [[label_index[t] for t in seq] for seq in tags] if tags is not None else None
    rare = ([[normalise_word(w, lowercase) in rare_words for w in s] for s in sentences]
            if rare_words is not None else None)
    return Encoded(word_ids, type_ids, type_chars, type_lengths, tag_ids, rare)


def singletons(sentences: Sequence[Sequence[str]], lowercase: bool) -> set[str]:
    counts = Counter(normalise_word(w, lowercase) for s in sentences for w in s)
    return {w for w, c in counts.items() if c == 1}


def pad(sequences: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Like batching.pad, but one tensor() call for the whole batch: a third of the cost
    at inference, where batches are large and sentences short."""
    lengths = [len(s) for s in sequences]
    width = max(1, max(lengths, default=0))
    rows = [list(s) + [pad_id] * (width - len(s)) for s in sequences]
    return torch.tensor(rows, dtype=torch.long), torch.tensor(lengths, dtype=torch.long)


def make_batch(data: Encoded, indices: Sequence[int], generator: torch.Generator | None = None,
               word_dropout: float = 0.0) -> dict[str, torch.Tensor]:
    """The model's inputs for sentences `indices` (and their tags, when known)."""
    words, lengths = pad([data.words[i] for i in indices], 0)
    types, _ = pad([data.types[i] for i in indices], 0)
    unique, char_index = torch.unique(types, return_inverse=True)
    char_lengths = data.type_lengths[unique]
    chars = data.type_chars[unique, : int(char_lengths.max())]
    if generator is not None and word_dropout > 0 and data.rare is not None:
        rare, _ = pad([[int(r) for r in data.rare[i]] for i in indices], 0)
        drop = rare.bool() & (torch.rand(words.shape, generator=generator) < word_dropout)
        words = words.masked_fill(drop, UNK_ID)
    batch = {"words": words, "lengths": lengths, "chars": chars, "char_lengths": char_lengths,
             "char_index": char_index}
    if data.tags is not None:
        batch["tags"], _ = pad([data.tags[i] for i in indices], 0)
    return batch


def model_inputs(batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
    return (batch["words"], batch["lengths"], batch["chars"], batch["char_lengths"], batch["char_index"])
