"""Pretrained word vectors in word2vec or GloVe text format.

    [COUNT DIM]            optional word2vec header line
    word v1 v2 ... vDIM    one word per line, values separated by spaces

Only the vectors of words in the given vocabulary are kept (a GloVe file can hold
millions), matched exactly first and then lowercased. A line whose number of values
differs from the file's dimension is a DataError naming `file:line`, and so is a value
that is not a finite number (a NaN or infinite vector would poison training) and a
dimension of 0. Reading goes through readers/text.py, so binary or unreadable files are
DataErrors too.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

from rnncli.errors import DataError
from rnncli.readers.text import display_name, iter_lines

MAX_HEADER_DIGITS = 18  # a count or dimension longer than this is not a header but a word


def header_dim(parts: list[str]) -> int | None:
    """The dimension of a `COUNT DIM` header line, or None when the line is not one. Only
    ASCII digits count: str.isdigit also accepts "²", which int() refuses."""
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() and len(p) <= MAX_HEADER_DIGITS
                                  for p in parts):
        return None
    return int(parts[1])


def parse_vector(values: list[str], name: str, number: int) -> list[float]:
    try:
        vector = [float(v) for v in values]
    except ValueError:
        raise DataError.at(name, number, "a vector value is not a number") from None
    if not all(map(math.isfinite, vector)):
        raise DataError.at(name, number, "a vector value is not finite (nan or inf)")
    return vector


def load_vectors(path: str | Path, vocabulary: Mapping[str, int],
                 dim: int | None = None) -> tuple[dict[int, list[float]], int]:
    """-> ({vocabulary id: vector}, dimension). Exact matches win over lowercased ones."""
    name = display_name(path)
    found: dict[int, list[float]] = {}
    exact: set[int] = set()
    width = dim
    lowered: dict[str, list[int]] = {}
    for word, index in vocabulary.items():
        lowered.setdefault(word.lower(), []).append(index)
    seen_any = False
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.rstrip().split(" ")
        if not seen_any:
            seen_any = True
            header = header_dim(parts)
            if header is not None:
                width = width or header
                if not width:
                    raise DataError.at(name, number, "the header gives a vector dimension of 0")
                continue
        values = parts[1:]
        if width is None:
            width = len(values)
            if not width:
                raise DataError.at(name, number, "no vector values after the word (values must be "
                                                 "separated by spaces)")
        if len(values) != width:
            raise DataError.at(name, number, f"expected {width} vector values, found {len(values)}")
        word = parts[0]
        targets = []
        if word in vocabulary:
            targets.append((vocabulary[word], True))
        targets += [(i, False) for i in lowered.get(word.lower(), ()) if i not in exact]
        if not targets:
            continue
        vector = parse_vector(values, name, number)
        for index, is_exact in targets:
            if is_exact or index not in found:
                found[index] = vector
            if is_exact:
                exact.add(index)
    if width is None:
        raise DataError(f"{name}: no vectors in the file")
    return found, width
