"""Input and output streams for the inference commands (classify, tag, translate).

- `output_stream(path)`: stdout, or a file written atomically, so a failure part way
  leaves no half-written output (side outputs such as --attention-out; the line-wise -o of
  translate/tag/classify grows through a partial file instead: partial.py).
- `chunked(items, size, from_stdin)`: work in batches, but from stdin a batch also ends
  when no more input is waiting, so an interactive pipeline gets each answer at once.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def output_stream(path: Path | None, default: TextIO | None | str = "stdout") -> Iterator[TextIO | None]:
    """Without a path: `default` (the current stdout unless given; may be None). With one:
    a file that appears only when complete (temporary file, renamed at the end)."""
    if path is None:
        yield sys.stdout if default == "stdout" else default
        return
    from rnncli.atomic import atomic_path
    from rnncli.errors import UsageError

    if path.is_dir():
        raise UsageError(f"-o {path}: is a directory; give a file name")
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError(f"-o {path}: {path.parent} is not a directory")
    try:
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
            yield handle
    except PermissionError:
        raise UsageError(f"-o {path}: cannot write there (permission denied)") from None


def stdin_waiting() -> bool:
    """True when more bytes can be read from stdin without blocking."""
    import select

    try:
        return bool(select.select([sys.stdin], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def chunked(items: Iterable[T], size: int, from_stdin: bool) -> Iterator[list[T]]:
    """Lists of at most `size` items; from stdin also cut when no more input is waiting."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size or (from_stdin and not stdin_waiting()):
            yield chunk
            chunk = []
    if chunk:
        yield chunk
