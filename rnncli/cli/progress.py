"""A progress bar over input lines for the inference commands (translate, tag, classify,
generate --prompt -): lines done, lines/s and, when the input's line count is known, a
bar and the time left.

Shown on stderr only when stderr is a terminal, unless the results go to stdout and stdout
is that same terminal (there the results themselves show the progress, and a live bar would
be torn by them); never with --quiet. RNNCLI_PROGRESS=1 forces it on (tests), RNNCLI_PROGRESS=0 off.
"""

from __future__ import annotations

import os
import stat
import sys

FORCE = "RNNCLI_PROGRESS"
COUNT_PIECE = 1 << 24   # bytes read at a time when counting lines


def progress_wanted(quiet: bool, results_on_stdout: bool = True) -> bool:
    forced = os.environ.get(FORCE)
    if quiet or forced == "0":
        return False
    if forced == "1":
        return True
    try:
        if not sys.stderr.isatty():
            return False
        return not (results_on_stdout and sys.stdout.isatty()
                    and os.path.samestat(os.fstat(sys.stdout.fileno()), os.fstat(sys.stderr.fileno())))
    except (AttributeError, OSError, ValueError):
        return False


def count_lines(path: str) -> int | None:
    """Lines of a regular file (stdin too, when it is one: read without moving its position);
    None for pipes and devices, whose length is unknown until they end."""
    try:
        if path == "-":
            fd, start = sys.stdin.fileno(), os.lseek(sys.stdin.fileno(), 0, os.SEEK_CUR)
            return count_fd(fd, start) if stat.S_ISREG(os.fstat(fd).st_mode) else None
        if not os.path.isfile(path):
            return None
        fd = os.open(path, os.O_RDONLY)
        try:
            return count_fd(fd, 0)
        finally:
            os.close(fd)
    except (OSError, ValueError, AttributeError):
        return None


def count_fd(fd: int, offset: int) -> int:
    lines, last = 0, b"\n"
    while piece := os.pread(fd, COUNT_PIECE, offset):
        lines += piece.count(b"\n")
        last, offset = piece[-1:], offset + len(piece)
    return lines + (last != b"\n")   # a last line without its newline is a line too


class LineProgress:
    """`with LineProgress(quiet) as bar: bar.start(name, total); bar.advance(n)`; does
    nothing (and imports nothing) when progress is not wanted."""

    def __init__(self, quiet: bool, enabled: bool = True, results_on_stdout: bool = True):
        self.shown = enabled and progress_wanted(quiet, results_on_stdout)
        self.progress = None
        self.task = None

    def __enter__(self) -> "LineProgress":
        if self.shown:
            self.progress = make_progress()
            self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.progress is not None:
            self.progress.stop()

    def start(self, name: str, total: int | None) -> None:
        if self.progress is None:
            return
        if self.task is not None:
            self.progress.update(self.task, visible=False)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, lines: int) -> None:
        if self.progress is not None and self.task is not None and lines:
            self.progress.advance(self.task, lines)


def make_progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    from rnncli.cli.common import stderr_console

    class LinesPerSecond(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            if speed is None and task.elapsed:   # rich's estimate needs two updates; one chunk gives one
                speed = task.completed / task.elapsed
            return Text("" if speed is None else f"{speed:,.0f} lines/s")

    class LinesDone(ProgressColumn):
        """N/M lines with a known total, else N lines."""

        def __init__(self):
            super().__init__()
            self.counted = MofNCompleteColumn()

        def render(self, task) -> Text:
            if task.total is not None:
                return Text(f"{self.counted.render(task)} lines")
            return Text(f"{int(task.completed):,} lines")

    return Progress(TextColumn("{task.description}"), BarColumn(), LinesDone(), LinesPerSecond(),
                    TimeRemainingColumn(), console=stderr_console(), transient=False,
                    redirect_stdout=False, redirect_stderr=False)
