"""Findings and the report of `rnncli data check`.

A finding has a level: "error" (training would refuse the data, or would learn from
broken data), "warning" (training runs, but the data has a problem worth fixing) or
"note" (a fact worth knowing, nothing wrong). Findings of one kind in one file are
folded into one: the first occurrence's message and place, a count, and the first
EXAMPLES places, so a file with a million bad lines gives one row, not a million.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnncli.errors import DataError

LEVELS = ("error", "warning", "note")
EXAMPLES = 5            # places listed per finding
EXIT_CODES = {"error": 2, "warning": 1}


@dataclass
class Finding:
    level: str
    code: str                       # a stable name scripts can test for
    message: str                    # the first occurrence, in words
    file: str | None = None
    line: int | None = None         # of the first occurrence
    count: int = 1
    examples: list[dict[str, Any]] = field(default_factory=list)   # {"file", "line", "detail"}

    def to_dict(self) -> dict[str, Any]:
        return {"level": self.level, "code": self.code, "message": self.message, "file": self.file,
                "line": self.line, "count": self.count, "examples": self.examples}

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class Findings:
    """Collects findings, folding repeats of a (code, file) into one."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str | None], Finding] = {}

    def add(self, level: str, code: str, file: str | None, line: int | None, message: str,
            detail: str | None = None, count: int = 1) -> None:
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}")
        key = (code, file)
        finding = self.items.get(key)
        if finding is None:
            finding = self.items[key] = Finding(level, code, message, file, line, 0)
        finding.count += count
        if line is not None and len(finding.examples) < EXAMPLES:
            finding.examples.append({"file": file, "line": line, "detail": detail or message})

    def add_error(self, exc: DataError, file: str, code: str, level: str = "error") -> None:
        """A reader's DataError ("FILE:LINE: message") as a finding with its place."""
        line, message = split_place(str(exc), file)
        self.add(level, code, file, line, message)

    def sorted(self) -> list[Finding]:
        rank = {level: i for i, level in enumerate(LEVELS)}
        return sorted(self.items.values(), key=lambda f: (rank[f.level], f.file or "", f.line or 0))


def split_place(text: str, file: str) -> tuple[int | None, str]:
    """'FILE:12: what' -> (12, 'what'); 'FILE: what' -> (None, 'what')."""
    if text.startswith(file + ":"):
        rest = text[len(file) + 1:]
        head, sep, tail = rest.partition(": ")
        if sep and head.isdigit():
            return int(head), tail
        return None, rest.lstrip()
    return None, text


@dataclass
class Report:
    """Everything `data check` found: per-file statistics and the findings."""

    task: str
    files: list[dict[str, Any]]
    findings: list[Finding]
    pairs: dict[str, Any] = field(default_factory=dict)       # cross-file facts (overlap, alignment)
    methods: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return max((EXIT_CODES.get(f.level, 0) for f in self.findings), default=0)

    @property
    def status(self) -> str:
        return {2: "errors", 1: "warnings", 0: "clean"}[self.exit_code]

    def counts(self) -> dict[str, int]:
        return {level: sum(1 for f in self.findings if f.level == level) for level in LEVELS}

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "status": self.status, "exit_code": self.exit_code, "summary": self.counts(),
                "files": self.files, "pairs": self.pairs,
                "findings": [f.to_dict() for f in self.findings], "methods": self.methods}
