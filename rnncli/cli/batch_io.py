"""The loop every line-wise inference command (translate, tag, classify) runs: inputs to
outputs, chunk by chunk, in order.

- jobs: one input to stdout or to `-o OUT`, or many inputs to `--output-dir DIR` (one
  output each, the same name), the model loaded once;
- `-o`/`--output-dir` outputs grow through a partial file and `--continue` picks them up
  (partial.py);
- under torchrun every rank reads the whole input and cuts it into the same chunks as one
  process would; chunk i is worked on by rank i mod N, and rank 0 writes the results in
  input order. A chunk's output depends only on the chunk, so the file is byte-identical
  to one process's;
- a progress bar over input lines (progress.py).

A command describes its work with a `Work`: `items(path)` yields (last input line, item)
pairs, `render(items)` gives the output text of a chunk of items, and `pass_over(items)`
lets items that another rank (or an earlier run) did go by, for readers that keep state
across lines (a TSV header).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol

from rnncli.cli.streams import chunked
from rnncli.errors import DataError, RnncliError, UsageError


class Work(Protocol):
    def items(self, path: str) -> Iterator[tuple[int, Any]]: ...

    def chunk_size(self, path: str) -> int: ...

    def render(self, items: list[Any]) -> str: ...

    def pass_over(self, items: list[Any]) -> None: ...


@dataclass(frozen=True)
class Job:
    input: str
    output: Path | None   # None: stdout


@dataclass
class Chunk:
    items: list[Any]
    end_line: int


@dataclass
class RunOptions:
    """How to run the jobs; `command`, `checkpoint` and `options` (every option that changes
    the output) make the settings a --continue must match."""

    command: str
    checkpoint: Path
    options: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    quiet: bool = False

    @functools.cached_property
    def settings(self) -> dict[str, Any]:
        from rnncli.cli.partial import file_sha256
        from rnncli.checkpoint import WEIGHTS_FILE

        settings = {"command": self.command, "model_sha256": file_sha256(Path(self.checkpoint) / WEIGHTS_FILE),
                    **self.options}
        return json.loads(json.dumps(settings))   # as a record reads back (tuples become lists)


def plan_jobs(inputs: list[str] | None, output: Path | None, output_dir: Path | None,
              resume: bool = False) -> list[Job]:
    """The (input, output) pairs of a command line; clashes and impossible asks are exit 2."""
    inputs = list(inputs or ["-"])
    if resume and output is None and output_dir is None:
        raise UsageError("--continue needs -o OUT or --output-dir DIR (the output of the stopped run)")
    for path in inputs:
        if path != "-" and not os.path.lexists(path):
            raise DataError(f"{path}: no such file")
    if output_dir is None:
        if len(inputs) > 1:
            raise UsageError(f"{len(inputs)} inputs need --output-dir DIR (one output file for each)")
        if output is not None and inputs[0] != "-" and same_file(inputs[0], output):
            raise UsageError(f"-o {output} is the input file itself")
        return [Job(inputs[0], output)]
    if output is not None:
        raise UsageError("give -o OUT (one input) or --output-dir DIR (many), not both")
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(f"--output-dir {output_dir}: not a directory")
    seen: dict[str, str] = {}
    jobs = []
    for path in inputs:
        if path == "-":
            raise UsageError("--output-dir needs input files (standard input has no name to keep)")
        name = Path(path).name
        if name in seen:
            raise UsageError(f"{seen[name]} and {path} have the same name: both outputs would be "
                             f"{output_dir / name}")
        seen[name] = path
        if same_file(path, output_dir / name):
            raise UsageError(f"--output-dir {output_dir}: the output of {path} would replace the input itself")
        jobs.append(Job(path, output_dir / name))
    return jobs


def total(count: int, env) -> int:
    """`count` summed over the torchrun ranks (each counted in its own chunks)."""
    if env is None or not env.distributed:
        return count
    from rnncli.runtime import all_gather_objects

    return sum(all_gather_objects(count, env))


def same_file(a: str | Path, b: str | Path) -> bool:
    return os.path.abspath(os.path.realpath(a)) == os.path.abspath(os.path.realpath(b))


def run_jobs(work: Work, jobs: list[Job], options: RunOptions, env=None) -> None:
    """Every job in order; `env` is the torchrun DistEnv (None: one process)."""
    from rnncli.cli.progress import LineProgress

    if env is not None and env.distributed and any(job.input == "-" for job in jobs):
        raise UsageError("under torchrun the input must be a file (every rank reads it)")
    on_stdout = any(job.output is None for job in jobs)
    with LineProgress(options.quiet, enabled=env is None or env.is_main, results_on_stdout=on_stdout) as bar:
        for job in jobs:
            run_job(work, job, options, env, bar)


def run_job(work: Work, job: Job, options: RunOptions, env, bar) -> None:
    from rnncli.cli.common import message
    from rnncli.cli.progress import count_lines

    main = env is None or env.is_main
    sink, done = None, None
    if main:
        try:
            sink = open_sink(job, options)
            done = sink.done
        except RnncliError as exc:
            if env is None or not env.distributed:
                raise
            done = Failure(type(exc).__name__, str(exc), exc.exit_code)
    done = agreed(done, env)
    if done is None:
        message(f"{job.output} is complete; nothing to continue", options.quiet or not main)
        return
    last = sink.lines_done() if main else 0
    if main and bar.shown:
        bar.start(Path(job.input).name if job.input != "-" else "<stdin>", count_lines(job.input))
        bar.advance(last)
    try:
        for group in rounds(work, job.input, done, env):
            for chunk, text in group if main else ():
                sink.write(text, len(chunk.items), chunk.end_line)
                bar.advance(chunk.end_line - last)
                last = chunk.end_line
    except BaseException:
        if main:
            sink.abandon()
        raise
    if main:
        sink.finish()


def rounds(work: Work, path: str, done: int, env) -> Iterator[list[tuple[Chunk, str]]]:
    """(chunk, output text) pairs in input order, a round of one chunk per rank at a time,
    after the first `done` items (passed over, not worked on)."""
    rank, world = (env.rank, env.world_size) if env is not None else (0, 1)
    items = iter(work.items(path))
    if done:
        skip_done(work, items, done)
    chunks = (Chunk([item for _, item in pairs], pairs[-1][0])
              for pairs in chunked(items, work.chunk_size(path), path == "-"))
    while True:
        group = [chunk for _, chunk in zip(range(world), chunks)]
        if not group:
            return
        mine = None
        for index, chunk in enumerate(group):
            if index == rank:   # one process: errors as they are (--debug shows their traceback)
                mine = work.render(chunk.items) if world == 1 else attempt(work.render, chunk.items)
            else:
                work.pass_over(chunk.items)
        texts = [mine] if world == 1 else shared(mine, env)[:len(group)]
        for text in texts:
            if isinstance(text, Failure):
                raise text.error()
        yield list(zip(group, texts))


def skip_done(work: Work, items: Iterator[tuple[int, Any]], done: int) -> None:
    batch: list[Any] = []
    for count, (_, item) in enumerate(items, 1):
        batch.append(item)
        if len(batch) == 1024 or count == done:
            work.pass_over(batch)
            batch = []
        if count == done:
            return
    raise DataError(f"--continue: the input has fewer items than the {done:,} already done")


@dataclass
class Failure:
    """An error on one rank, carried to all so they stop together."""

    kind: str
    text: str
    code: int

    def error(self) -> Exception:
        if self.kind == "DataError":
            return DataError(self.text)
        if self.kind == "UsageError":
            return UsageError(self.text)
        error = RnncliError(self.text)
        error.exit_code = self.code
        return error


def attempt(render, items: list[Any]):
    try:
        return render(items)
    except RnncliError as exc:
        return Failure(type(exc).__name__, str(exc), exc.exit_code)


def shared(mine, env) -> list:
    from rnncli.runtime import all_gather_objects

    return all_gather_objects(mine, env)


def agreed(value, env):
    """Rank 0's value on every rank (an error on rank 0 stops all ranks with it)."""
    if env is None or not env.distributed:
        return value
    from rnncli.runtime import broadcast_object

    value = broadcast_object(value, env)
    if isinstance(value, Failure):
        raise value.error()
    return value


def open_sink(job: Job, options: RunOptions):
    if job.output is None:
        return StdoutSink()
    from rnncli.cli.partial import PartialOutput

    return FileSink(PartialOutput(job.output, job.input, options.settings, options.resume))


class StdoutSink:
    done = 0

    def lines_done(self) -> int:
        return 0

    def write(self, text: str, items: int, end_line: int) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    def abandon(self) -> None:
        """What is written stays written."""

    def finish(self) -> None:
        sys.stdout.flush()


class FileSink:
    def __init__(self, partial):
        self.partial = partial
        try:
            self.done = partial.open()
        except BaseException:
            partial.close()
            raise

    def lines_done(self) -> int:
        return self.partial.state["lines"]

    def write(self, text: str, items: int, end_line: int) -> None:
        self.partial.write(text, items, end_line)

    def abandon(self) -> None:
        self.partial.abandon()

    def finish(self) -> None:
        self.partial.finish()
