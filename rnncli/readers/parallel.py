"""Parallel text: two plain-text files aligned by line (source line N translates to target line N).

Policy, stated once here and relied on by the translate task:
- the two files must have the same number of lines; a mismatch is a DataError naming both
  files and both counts (never a silent truncation to the shorter file);
- training (`skip_empty=True`): a pair where either side is empty (or only whitespace) is
  dropped and counted, since it teaches nothing but "stop at once";
- scoring (`skip_empty=False`): every pair is kept, so output lines stay aligned with the
  input lines (an empty source line is translated to an empty line);
- `filter_by_length` drops training pairs whose source or target exceeds a token limit
  and reports how many it dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rnncli.errors import DataError
from rnncli.readers.text import read_lines


@dataclass
class ParallelText:
    """Aligned source/target lines; `line_numbers` are 1-based positions in the files."""

    src: list[str]
    tgt: list[str]
    line_numbers: list[int] = field(default_factory=list)
    skipped_empty: int = 0

    def __len__(self) -> int:
        return len(self.src)


def check_aligned(src_path: str | Path, src_count: int, tgt_path: str | Path, tgt_count: int) -> None:
    if src_count != tgt_count:
        raise DataError(f"{src_path} has {src_count:,} lines but {tgt_path} has {tgt_count:,} lines; "
                        "parallel files must be aligned line by line")


def read_parallel(src_path: str | Path, tgt_path: str | Path, skip_empty: bool = True) -> ParallelText:
    """Read two aligned files; see the module docstring for the empty-line policy."""
    src_lines = read_lines(src_path)
    tgt_lines = read_lines(tgt_path)
    check_aligned(src_path, len(src_lines), tgt_path, len(tgt_lines))
    if not skip_empty:
        return ParallelText(src_lines, tgt_lines, list(range(1, len(src_lines) + 1)))
    data = ParallelText([], [])
    for number, (src, tgt) in enumerate(zip(src_lines, tgt_lines), start=1):
        if not src.strip() or not tgt.strip():
            data.skipped_empty += 1
            continue
        data.src.append(src)
        data.tgt.append(tgt)
        data.line_numbers.append(number)
    if not data.src:
        raise DataError(f"{src_path}, {tgt_path}: no pair with text on both sides")
    return data


def read_references(ref_paths: Sequence[str | Path], expected: int, hyp_path: str | Path) -> list[list[str]]:
    """One list of lines per reference file, each as long as the hypothesis file."""
    refs = []
    for path in ref_paths:
        lines = read_lines(path, allow_empty=True)
        check_aligned(hyp_path, expected, path, len(lines))
        refs.append(lines)
    return refs


def filter_by_length(src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]],
                     max_len: int | None) -> tuple[list[int], int]:
    """Indices of pairs whose sides both have at most `max_len` tokens, and the count dropped."""
    if not max_len:
        return list(range(len(src_ids))), 0
    kept = [i for i, (s, t) in enumerate(zip(src_ids, tgt_ids)) if len(s) <= max_len and len(t) <= max_len]
    return kept, len(src_ids) - len(kept)
