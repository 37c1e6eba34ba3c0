"""Input and output streams for the inference commands (classify, tag, translate).

- `output_stream(path)`: stdout, or an -o file written atomically, so a failure part way
  leaves no half-written output.
- `chunked(items, size, from_stdin)`: work in batches, but from stdin a batch also ends
  when no more input is waiting, so an interactive pipeline gets each answer at once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")


class output_stream:
    """Context manager: stdout, or a file at `path` that appears only when complete."""

    def __init__(self, path: Path | None):
        self.path, self.context, self.handle = path, None, None

    def __enter__(self) -> TextIO:
        if self.path is None:
            return sys.stdout
        from rnncli.atomic import atomic_path

        self.context = atomic_path(self.path)
        self.handle = open(self.context.__enter__(), "w", encoding="utf-8")
        return self.handle

    def __exit__(self, *exc) -> bool:
        if self.handle is not None:
            self.handle.close()
            return bool(self.context.__exit__(*exc))
        return False


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
