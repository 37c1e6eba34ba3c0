"""Read a file once, line by line, in bounded pieces, and note what is wrong with its bytes.

The scanner finds what the strict readers (rnncli/readers/text.py) refuse or quietly
repair: invalid UTF-8 and NUL bytes (with line and column), CRLF or mixed line endings,
a bare CR inside a line (old Mac files), a byte-order mark, a missing final newline,
empty lines. Unlike the readers it does not stop at the first defect: it decodes a bad
line with replacement characters and goes on, so one pass reports everything.

Memory stays bounded whatever the file: lines are read in pieces of PIECE bytes and a
line is kept whole only up to MAX_LINE bytes; the rest of a longer line is read past
(counted, not kept), so a file that never ends a line (/dev/zero) cannot fill memory.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from rnncli.datacheck.report import Findings
from rnncli.readers.text import STDIN, display_name, open_error

PIECE = 1 << 20
MAX_LINE = 16 << 20       # bytes of one line kept for analysis; the rest is skipped


@dataclass
class ByteStats:
    """What the scan saw of one file's bytes and lines."""

    bytes: int = 0
    lines: int = 0
    lf: int = 0
    crlf: int = 0
    final_newline: bool = True
    bom: bool = False
    empty_lines: int = 0
    invalid_utf8_lines: int = 0
    nul_lines: int = 0
    long_lines: int = 0
    first_empty: list[int] = field(default_factory=list)

    def line_endings(self) -> str:
        if self.lf and self.crlf:
            return "mixed"
        return "crlf" if self.crlf else "lf" if self.lf else "none"

    def to_dict(self) -> dict:
        return {"bytes": self.bytes, "lines": self.lines, "encoding": "utf-8" if not self.invalid_utf8_lines
                else "invalid utf-8", "line_endings": self.line_endings(), "crlf_lines": self.crlf,
                "final_newline": self.final_newline, "bom": self.bom, "empty_lines": self.empty_lines,
                "nul_lines": self.nul_lines, "invalid_utf8_lines": self.invalid_utf8_lines}


def open_input(path: str) -> BinaryIO:
    if path == STDIN:
        if sys.stdin is None:
            from rnncli.errors import DataError

            raise DataError("<stdin>: no standard input to read")
        return sys.stdin.buffer
    try:
        return open(path, "rb")
    except (OSError, ValueError) as exc:
        raise open_error(path, exc) from None


def raw_lines(handle: BinaryIO, stats: ByteStats) -> Iterator[bytes]:
    """Each line's bytes with its ending, at most MAX_LINE bytes of it kept."""
    while piece := handle.readline(PIECE):
        if len(piece) == PIECE and not piece.endswith(b"\n"):
            pieces, kept = [piece], len(piece)
            while piece and not piece.endswith(b"\n"):
                piece = handle.readline(PIECE)
                stats.bytes += len(piece)
                if kept < MAX_LINE:
                    pieces.append(piece)
                    kept += len(piece)
            stats.long_lines += kept >= MAX_LINE
            stats.bytes += len(pieces[0])
            yield b"".join(pieces)
            continue
        stats.bytes += len(piece)
        yield piece


def scan(path: str, findings: Findings, stats: ByteStats) -> Iterator[tuple[int, str]]:
    """(line number, text without its ending) for every line of `path`, noting byte-level
    problems in `findings` and `stats` on the way."""
    name = display_name(path)
    handle = open_input(path)
    try:
        for number, raw in enumerate(raw_lines(handle, stats), start=1):
            stats.lines = number
            yield number, inspect(raw, number, name, findings, stats)
    except OSError as exc:
        raise open_error(name, exc, stats.lines + 1) from None
    finally:
        if handle is not getattr(sys.stdin, "buffer", None):
            handle.close()
    finish(name, findings, stats)


def inspect(raw: bytes, number: int, name: str, findings: Findings, stats: ByteStats) -> str:
    if raw.endswith(b"\r\n"):
        stats.crlf += 1
        body = raw[:-2]
    elif raw.endswith(b"\n"):
        stats.lf += 1
        body = raw[:-1]
    else:
        stats.final_newline = False
        body = raw
    if number == 1 and body.startswith(b"\xef\xbb\xbf"):
        stats.bom = True
        body = body[3:]
    if b"\0" in body:
        stats.nul_lines += 1
        column = len(body[:body.index(b"\0")].decode("utf-8", errors="replace")) + 1
        findings.add("error", "nul-byte", name, number, f"NUL byte at column {column} (binary data, or "
                     "UTF-16 text?)", f"column {column}")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        stats.invalid_utf8_lines += 1
        column = len(body[:exc.start].decode("utf-8", errors="replace")) + 1
        byte = body[exc.start:exc.start + 1].hex()
        findings.add("error", "invalid-utf8", name, number, f"invalid UTF-8 byte 0x{byte} at column {column} "
                     "(is the file in another encoding? convert it with iconv)", f"byte 0x{byte}, column {column}")
        text = body.decode("utf-8", errors="replace")
    if "\r" in text:
        findings.add("warning", "bare-cr", name, number, "a carriage return (\\r) inside the line: old Mac "
                     "line endings, or a stray \\r that the readers keep as text")
    if not text.strip():
        stats.empty_lines += 1
        if len(stats.first_empty) < 5:
            stats.first_empty.append(number)
    return text


def finish(name: str, findings: Findings, stats: ByteStats) -> None:
    """File-level findings once every line is read."""
    if stats.lines == 0:
        findings.add("error", "empty-file", name, None, "the file is empty")
    endings = stats.line_endings()
    if endings == "mixed":
        findings.add("warning", "mixed-line-endings", name, None,
                     f"mixed line endings: {stats.crlf:,} CRLF and {stats.lf:,} LF lines (the readers accept "
                     "both; an editor or tool may not)")
    elif endings == "crlf":
        findings.add("note", "crlf", name, None, "CRLF (Windows) line endings; the readers drop the \\r")
    if stats.bom:
        findings.add("note", "bom", name, 1, "starts with a UTF-8 byte-order mark (removed when read)")
    if stats.lines and not stats.final_newline:
        findings.add("note", "no-final-newline", name, stats.lines, "the last line has no newline")
    if stats.long_lines:
        findings.add("warning", "huge-line", name, None, f"{stats.long_lines:,} line(s) longer than "
                     f"{MAX_LINE >> 20} MiB; only their first {MAX_LINE >> 20} MiB were checked")
