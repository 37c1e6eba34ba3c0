"""Plain text: strict UTF-8, lines split on "\\n" only, empty files rejected.

Splitting on "\\n" alone (not str.splitlines, which also breaks on \\x0b, \\x1c, \\x85,
\\u2028 ...) keeps line numbers equal to what `wc -l`, editors and paste(1) count, so
"one output line per input line" holds. A trailing "\\r" is dropped so CRLF files work.

Hostile input is a DataError naming the place, never an internal error: a NUL byte
(binary data, or UTF-16 text) names file, line and column; an unreadable path
(permissions, a directory, an I/O error while reading) says why. Devices that never end
a line or a file (/dev/zero) are read in bounded pieces, so they fail at their first NUL
rather than filling memory.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import BinaryIO, Iterator

from rnncli.errors import DataError

STDIN = "-"
PIECE = 1 << 20  # bytes read at a time where a file's end or a line's end may never come


class Source:
    """A file's bytes, read once, standing in for its path: every reader accepts one.

    Training reads each data file through one of these, so the bytes it trains on and the
    sha256 it records are the same bytes, and a pipe (FIFO) is read only once."""

    def __init__(self, path: str | Path):
        self.path = path
        self.data = read_bytes(path)

    def __str__(self) -> str:
        return display_name(self.path)

    def __repr__(self) -> str:
        return f"Source({str(self.path)!r})"


def display_name(path: str | Path) -> str:
    return "<stdin>" if str(path) == STDIN else str(path)


def open_error(path: str | Path, exc: Exception, line: int | None = None) -> DataError:
    """The DataError for a path that cannot be opened or read."""
    if isinstance(exc, FileNotFoundError):
        return DataError(f"{path}: no such file")
    if isinstance(exc, IsADirectoryError):
        return DataError.at(path, line, "is a directory, expected a text file")
    if isinstance(exc, ValueError):  # a NUL in the path itself: open() refuses it so
        return DataError(f"{path!r}: invalid file name")
    reason = getattr(exc, "strerror", None) or exc.__class__.__name__
    return DataError.at(path, line, f"cannot read ({reason})")


def open_binary(path: str | Path | Source) -> BinaryIO:
    if isinstance(path, Source):
        import io

        return io.BytesIO(path.data)
    try:
        return open(path, "rb")
    except (OSError, ValueError) as exc:
        raise open_error(path, exc) from None


def read_bytes(path: str | Path | Source) -> bytes:
    if isinstance(path, Source):
        return path.data
    if str(path) == STDIN:
        return read_unbounded(stdin_binary(), display_name(path))
    with open_binary(path) as handle:
        try:
            if stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return handle.read()
            return read_unbounded(handle, str(path))
        except OSError as exc:
            raise open_error(path, exc) from None


def read_unbounded(handle: BinaryIO, name: str) -> bytes:
    """A pipe or device, read in pieces so a stream of NULs fails at once."""
    pieces = []
    while piece := handle.read(PIECE):
        if b"\0" in piece:
            data = b"".join(pieces) + piece
            raise nul_error(data, data.index(b"\0"), name, 1)
        pieces.append(piece)
    return b"".join(pieces)


def nul_error(data: bytes, position: int, name: str, first_line: int) -> DataError:
    """A NUL byte at `position` of `data`; the column counts characters, as editors do."""
    start = data.rfind(b"\n", 0, position) + 1
    line = first_line + data.count(b"\n", 0, position)
    column = len(data[start:position].decode("utf-8", errors="replace")) + 1
    return DataError.at(name, line, f"NUL byte at column {column} (binary file?)")


def decode_strict(data: bytes, name: str, first_line: int = 1) -> str:
    """UTF-8 decode; an invalid byte or a NUL is a DataError naming the file, line and column.
    Whichever comes first in the data is the one reported."""
    nul = data.find(b"\0")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if 0 <= nul < exc.start:
            raise nul_error(data, nul, name, first_line) from None
        line = first_line + data.count(b"\n", 0, exc.start)
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = data[exc.start:exc.start + 1].hex()
        raise DataError.at(name, line, f"invalid UTF-8 byte 0x{byte} at column {column} "
                                       "(is the file in another encoding?)") from None
    if nul >= 0:
        raise nul_error(data, nul, name, first_line)
    return text


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
    if not isinstance(path, Source) and str(path) == STDIN:
        return [line for _, line in iter_lines(STDIN)]
    return split_lines(read_text(path, allow_empty=allow_empty))


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, line) pairs, read lazily so a pipeline sees output as input arrives."""
    name = display_name(path)
    if not isinstance(path, Source) and str(path) == STDIN:
        yield from iter_binary_lines(stdin_binary(), name)
        return
    with open_binary(path) as handle:
        yield from iter_binary_lines(handle, name)


def stdin_binary() -> BinaryIO:
    if sys.stdin is None:  # started with standard input closed
        raise DataError("<stdin>: no standard input to read")
    return sys.stdin.buffer


def iter_binary_lines(handle: BinaryIO, name: str) -> Iterator[tuple[int, str]]:
    number = 0
    while raw := read_line(handle, name, number + 1):
        number += 1
        text = decode_strict(raw, name, first_line=number)
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
            if not text:  # a file of only a BOM is empty, as read_lines finds it
                return
        if text.endswith("\n"):
            text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
        yield number, text


def read_line(handle: BinaryIO, name: str, number: int) -> bytes:
    """One line with its "\\n" (b"" at the end), read in bounded pieces: a line that never
    ends is refused at its first NUL instead of being held whole in memory."""
    try:
        piece = handle.readline(PIECE)
        if len(piece) < PIECE or piece.endswith(b"\n"):
            return piece  # the common case: one call, one line
        pieces = [piece]
        while piece and not piece.endswith(b"\n"):
            if b"\0" in piece:
                data = b"".join(pieces)
                raise nul_error(data, data.index(b"\0"), name, number)
            piece = handle.readline(PIECE)
            pieces.append(piece)
        return b"".join(pieces)
    except OSError as exc:
        raise open_error(name, exc, number) from None
