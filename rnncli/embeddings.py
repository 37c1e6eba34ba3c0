"""Pretrained word vectors in word2vec or GloVe text format.

    [COUNT DIM]            optional word2vec header line
    word v1 v2 ... vDIM    one word per line, values separated by spaces

Only the vectors of words in the given vocabulary are kept (a GloVe file can hold
millions), matched exactly first and then lowercased. A line whose number of values
differs from the file's dimension is a DataError naming `file:line`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from rnncli.errors import DataError
from rnncli.readers.text import iter_lines


def load_vectors(path: str | Path, vocabulary: Mapping[str, int],
                 dim: int | None = None) -> tuple[dict[int, list[float]], int]:
    """-> ({vocabulary id: vector}, dimension). Exact matches win over lowercased ones."""
    found: dict[int, list[float]] = {}
    exact: set[int] = set()
    width = dim
    lowered: dict[str, list[int]] = {}
    for word, index in vocabulary.items():
        lowered.setdefault(word.lower(), []).append(index)
    seen_any = False
    for number, line in iter_lines(path):
        parts = line.rstrip().split(" ")
        if not line.strip():
            continue
        if not seen_any and len(parts) == 2 and all(p.isdigit() for p in parts):
            seen_any = True
            width = width or int(parts[1])
            continue
        seen_any = True
        values = parts[1:]
        if width is None:
            width = len(values)
        if len(values) != width:
            raise DataError.at(path, number, f"expected {width} vector values, found {len(values)}")
        word = parts[0]
        targets = []
        if word in vocabulary:
            targets.append((vocabulary[word], True))
        targets += [(i, False) for i in lowered.get(word.lower(), ()) if i not in exact]
        if not targets:
            continue
        try:
            vector = [float(v) for v in values]
        except ValueError:
            raise DataError.at(path, number, "a vector value is not a number") from None
        for index, is_exact in targets:
            if is_exact or index not in found:
                found[index] = vector
            if is_exact:
                exact.add(index)
    if width is None:
        raise DataError(f"{path}: no vectors in the file")
    return found, width
