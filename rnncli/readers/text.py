"""Plain text: strict UTF-8, lines split on "\\n" only, empty files rejected.

Splitting on "\\n" alone (not str.splitlines, which also breaks on \\x0b, \\x1c, \\x85,
\\u2028 ...) keeps line numbers equal to what `wc -l`, editors and paste(1) count, so
"one output line per input line" holds. A trailing "\\r" is dropped so CRLF files work.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO, Iterator

from rnncli.errors import DataError

STDIN = "-"


def display_name(path: str | Path) -> str:
    return "<stdin>" if str(path) == STDIN else str(path)


def read_bytes(path: str | Path) -> bytes:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a text file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return data


def decode_strict(data: bytes, name: str, first_line: int = 1) -> str:
    """UTF-8 decode; an invalid byte is a DataError naming the file, line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = first_line + data.count(b"\n", 0, exc.start)
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start:exc.start + 1].hex()
        raise DataError.at(name, line, f"invalid UTF-8 byte 0x{byte} at column {column} "
                                       "(is the file in another encoding?)") from None


def read_text(path: str | Path, allow_empty: bool = False) -> str:
    """A whole file as one string (a leading UTF-8 BOM removed)."""
    text = decode_strict(read_bytes(path), str(path))
    if text.startswith("\ufeff"):
        text = text[1:]
    if not allow_empty and not text.strip():
        raise DataError(f"{path}: file is empty")
    return text


def split_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line does not start another
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_lines(path: str | Path, allow_empty: bool = False) -> list[str]:
    """All lines of a file (or "-" for stdin), without their line ends."""
    if str(path) == STDIN:
        return [line for _, line in iter_lines(STDIN)]
    return split_lines(read_text(path, allow_empty=allow_empty))


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, line) pairs, read lazily so a pipeline sees output as input arrives."""
    name = display_name(path)
    if str(path) == STDIN:
        yield from iter_binary_lines(sys.stdin.buffer, name)
        return
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory, expected a text file") from None
    with handle:
        yield from iter_binary_lines(handle, name)


def iter_binary_lines(handle: BinaryIO, name: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(iter(handle.readline, b""), start=1):
        text = decode_strict(raw, name, first_line=number)
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        if text.endswith("\n"):
            text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
        yield number, text
