"""CoNLL column files: one token per line, columns split on whitespace (or tabs), a blank
line between sentences, `-DOCSTART-` lines skipped, a last sentence without a trailing
blank line kept. For output that must line up with its input (`rnncli tag --input-format
conll`), `iter_conll(..., passthrough=True)` also yields every other line, as `OtherLine`.

Every token line of a file must have as many columns as its first token line; a line
that does not is a DataError naming `file:line`, the expected and the found count.
Columns are chosen with 0-based Python indices here (negative counts from the end); the
command line's 1-based numbers are turned into these by `column_index`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from rnncli.errors import DataError, UsageError
from rnncli.readers.text import display_name, iter_lines

DOCSTART = "-DOCSTART-"
SEPARATORS = {"space": None, "whitespace": None, "tab": "\t"}


@dataclass
class ConllSentence:
    """One sentence: its rows of columns, where it starts in its file, and the line of each
    row (a -DOCSTART- line inside a sentence makes them differ from `line + i`)."""

    rows: list[list[str]]
    line: int
    words: list[str] = field(default_factory=list)
    tags: list[str] | None = None
    lines: list[int] = field(default_factory=list)


@dataclass
class OtherLine:
    """A line that is not a token line (blank, or -DOCSTART-), kept in passthrough mode."""

    line: int
    text: str

    @property
    def docstart(self) -> bool:
        return self.text.strip().startswith(DOCSTART)


def column_index(number: int, name: str) -> int:
    """1-based column number (negative: from the end, -1 last) -> Python index."""
    if number == 0:
        raise UsageError(f"--{name}: columns are numbered from 1 (or -1 for the last)")
    return number - 1 if number > 0 else number


def separator(name: str | None) -> str | None:
    if name is None:
        return None
    if name not in SEPARATORS:
        raise UsageError(f"--sep {name!r}: choose space or tab")
    return SEPARATORS[name]


def split_row(line: str, sep: str | None) -> list[str]:
    return line.split() if sep is None else line.split(sep)


def iter_conll(path: str | Path, word_column: int = 0, tag_column: int | None = -1,
               sep: str | None = None, passthrough: bool = False) -> Iterator[ConllSentence | OtherLine]:
    """Sentences of a CoNLL file (or "-" for stdin), read lazily. With `tag_column` None
    the file needs no tag column (text to tag). With `passthrough`, blank and -DOCSTART-
    lines come too, in file order (a -DOCSTART- line then also ends a sentence)."""
    name = display_name(path)
    expected: int | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    for number, line in iter_lines(path):
        row = split_row(line, sep) if line.strip() else []
        if not row or row[0] == DOCSTART:
            if rows and (passthrough or not row):
                yield make_sentence(rows, numbers, word_column, tag_column)
                rows, numbers = [], []
            if passthrough:
                yield OtherLine(number, line)
            continue
        if expected is None:
            expected = check_first_row(row, name, number, word_column, tag_column)
        elif len(row) != expected:
            raise DataError.at(name, number, f"expected {expected} columns (as on the first token line), "
                                             f"found {len(row)}")
        if any(not cell for cell in row):
            raise DataError.at(name, number, "empty column (two separators in a row?)")
        rows.append(row)
        numbers.append(number)
    if rows:
        yield make_sentence(rows, numbers, word_column, tag_column)


def check_first_row(row: list[str], name: str, number: int, word_column: int,
                    tag_column: int | None) -> int:
    needed = max(column_width(word_column), column_width(tag_column) if tag_column is not None else 1)
    if tag_column is not None and needed < 2:
        needed = 2
    if len(row) < needed:
        what = "word and tag columns" if tag_column is not None else "the word column"
        raise DataError.at(name, number, f"expected at least {needed} columns ({what}), found {len(row)}")
    if tag_column is not None and normalised(word_column, len(row)) == normalised(tag_column, len(row)):
        raise DataError.at(name, number, "the word and tag columns are the same column")
    return len(row)


def column_width(index: int) -> int:
    """How many columns a row needs for `index` to exist."""
    return index + 1 if index >= 0 else -index


def normalised(index: int, width: int) -> int:
    return index if index >= 0 else width + index


def make_sentence(rows: list[list[str]], lines: list[int], word_column: int,
                  tag_column: int | None) -> ConllSentence:
    words = [row[word_column] for row in rows]
    tags = [row[tag_column] for row in rows] if tag_column is not None else None
    return ConllSentence(rows=rows, line=lines[0], words=words, tags=tags, lines=lines)


def read_conll(path: str | Path, word_column: int = 0, tag_column: int | None = -1,
               sep: str | None = None) -> list[ConllSentence]:
    """All sentences of a file; a file without any sentence is a DataError."""
    sentences = list(iter_conll(path, word_column, tag_column, sep))
    if not sentences:
        raise DataError(f"{display_name(path)}: no sentences (the file is empty or holds only -DOCSTART- lines)")
    return sentences


def format_sentence(rows: Sequence[Sequence[str]], tags: Sequence[str] | None = None,
                    sep: str | None = None) -> str:
    """A sentence's token lines, each with `tags` appended as a last column, and the blank
    line that ends it."""
    joiner = "\t" if sep == "\t" else " "
    lines = [joiner.join([*row, tag] if tags is not None else row)
             for row, tag in zip(rows, tags if tags is not None else [None] * len(rows))]
    return "".join(line + "\n" for line in lines) + "\n"
