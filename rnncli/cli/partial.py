"""`-o OUT` of the inference commands: output grows in `OUT.partial`, progress is recorded in
`OUT.partial.json`, and OUT appears (by rename) only when the whole input is done.

A stopped run (SIGINT, SIGTERM, a crash, bad input further on) keeps the partial file and
its record; `--continue` picks up after the last finished chunk. The record counts in input
units, never in output lines (a CoNLL sentence spans many lines, an n-best JSONL line holds
many hypotheses):

    items   input items done (lines; CoNLL sentences and blank lines for `tag --input-format conll`)
    lines   input lines those items cover
    bytes   bytes of OUT.partial that belong to them (anything after is cut on --continue)
    sha256  of the raw bytes of those input lines
    settings  the command, the model's weights (sha256) and every option that changes output

`--continue` refuses (exit 2) when the input now has fewer lines than the record, when its
first `lines` lines hash differently, or when a setting differs, so the finished file is
byte-identical to an uninterrupted run or is not made at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from rnncli.errors import DataError, UsageError

FORMAT = 1


def partial_paths(out: Path) -> tuple[Path, Path]:
    return out.with_name(out.name + ".partial"), out.with_name(out.name + ".partial.json")


def regular_file(path: str) -> bool:
    try:
        return path != "-" and stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while piece := handle.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()


class PrefixHash:
    """sha256 of a file's first N lines, read through a handle of its own (the readers'
    own buffering says nothing of where they are in the file)."""

    def __init__(self, path: str):
        self.path, self.lines = path, 0
        self.digest = hashlib.sha256()
        self.handle = open(path, "rb")

    def advance(self, lines: int) -> bool:
        """Hash up to line `lines`; False when the file ends first."""
        while self.lines < lines:
            line = self.handle.readline()
            if not line:
                return False
            self.digest.update(line)
            self.lines += 1
        return True

    def hexdigest(self) -> str:
        return self.digest.hexdigest()

    def close(self) -> None:
        self.handle.close()


class PartialOutput:
    """The -o file of one input, written through OUT.partial (see the module docstring).
    `open()` returns the input items already done (None: OUT is complete, nothing to do)."""

    def __init__(self, out: Path, input: str, settings: dict[str, Any], resume: bool):
        self.out, self.input, self.settings, self.resume = out, input, settings, resume
        self.partial, self.record = partial_paths(out)
        self.state = {"items": 0, "lines": 0, "bytes": 0}
        self.handle = None
        self.hasher: PrefixHash | None = None

    def open(self) -> int | None:
        check_output_path(self.out)
        if self.record.exists() and not self.partial.exists() and self.out.exists():
            self.record.unlink()   # a run stopped between its final rename and this clean-up
        if not self.resume:
            if self.partial.exists() or self.record.exists():
                raise UsageError(f"{self.partial} holds an unfinished run: add --continue to pick it up, "
                                 "or remove it to start over")
        elif not self.record.exists():
            if self.partial.exists():
                raise UsageError(f"--continue: {self.partial} has no progress record ({self.record.name}); "
                                 "remove it to start over")
            if self.out.exists():
                return None
        if self.resume and not regular_file(self.input):
            raise UsageError("--continue needs an input file (standard input or a pipe cannot be read again)")
        if regular_file(self.input):
            self.hasher = PrefixHash(self.input)
        if self.resume and self.record.exists():
            self.load_record()
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.partial, "r+b" if self.state["bytes"] else "wb")
        self.handle.truncate(self.state["bytes"])   # output of a chunk not yet recorded goes
        self.handle.seek(self.state["bytes"])
        self.save_record()
        return self.state["items"]

    def load_record(self) -> None:
        try:
            record = json.loads(self.record.read_text(encoding="utf-8"))
            state = {key: int(record[key]) for key in ("items", "lines", "bytes")}
            settings, digest = record["settings"], record["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            raise DataError(f"--continue: {self.record} is damaged; remove it and {self.partial.name} "
                            "to start over") from None
        differ = sorted(k for k in {*settings, *self.settings} if settings.get(k) != self.settings.get(k))
        if differ:
            raise UsageError(f"--continue: {self.partial} was made with other settings ({', '.join(differ)}); "
                             "use the same model and options, or remove it to start over")
        if not self.partial.exists() or self.partial.stat().st_size < state["bytes"]:
            raise DataError(f"--continue: {self.partial} is shorter than its record says; remove it and "
                            f"{self.record.name} to start over")
        if not self.hasher.advance(state["lines"]):
            raise DataError(f"--continue: {self.partial} holds the output of {state['lines']:,} input lines, "
                            f"but {self.input} has only {self.hasher.lines:,}: not the same input")
        if self.hasher.hexdigest() != digest:
            raise DataError(f"--continue: the first {state['lines']:,} lines of {self.input} differ from the "
                            f"input {self.partial} was made from (sha256 of the prefix); not the same input")
        self.state = state

    def save_record(self) -> None:
        # Written after the output it describes is flushed, so the record is never ahead of
        # the partial file; not fsynced per chunk (a crash of the process, not of the
        # machine, is what it guards against, and fsync per chunk would slow small chunks).
        record = {"format": FORMAT, "input": os.path.abspath(self.input) if self.input != "-" else "-",
                  **self.state, "sha256": self.hasher.hexdigest() if self.hasher else None,
                  "settings": self.settings}
        tmp = self.record.with_name(f".{self.record.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
            os.replace(tmp, self.record)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def write(self, text: str, items: int, end_line: int) -> None:
        data = text.encode("utf-8")
        self.handle.write(data)
        self.handle.flush()
        if self.hasher is not None:
            self.hasher.advance(end_line)
        self.state = {"items": self.state["items"] + items, "lines": end_line,
                      "bytes": self.state["bytes"] + len(data)}
        self.save_record()

    def finish(self) -> None:
        from rnncli.atomic import fsync_directory

        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.close()
        os.replace(self.partial, self.out)
        self.record.unlink(missing_ok=True)
        fsync_directory(self.out.parent)

    def abandon(self) -> None:
        """A stop: keep what is done; a run that finished nothing leaves nothing behind."""
        self.close()
        if self.state["items"] == 0 and self.partial.exists() and self.partial.stat().st_size == 0:
            self.partial.unlink(missing_ok=True)
            self.record.unlink(missing_ok=True)

    def close(self) -> None:
        if self.hasher is not None:
            self.hasher.close()
        if self.handle is not None and not self.handle.closed:
            self.handle.close()


def check_output_path(path: Path) -> None:
    if path.is_dir():
        raise UsageError(f"-o {path}: is a directory; give a file name")
    if path.parent.exists() and not path.parent.is_dir():
        raise UsageError(f"-o {path}: {path.parent} is not a directory")
    if path.parent.exists() and not os.access(path.parent, os.W_OK):
        raise UsageError(f"-o {path}: cannot write there (permission denied)")
