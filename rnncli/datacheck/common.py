"""What every task's check shares: the options, per-file entries, and the findings built
from lengths, hashes and labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rnncli.datacheck.report import Findings
from rnncli.datacheck.scan import ByteStats
from rnncli.datacheck.stats import HashIndex, LabelCounts, LengthStats

IMBALANCE_WARNING = 10.0     # largest class / smallest class from which imbalance is a warning


@dataclass(frozen=True)
class CheckOptions:
    """The data options of the matching `train` command (None: that command's default)."""

    max_len: int | None = None
    format: str | None = None
    text_field: str | None = None
    label_field: str | None = None
    allow_unseen_labels: bool = False
    word_column: int | None = None
    tag_column: int | None = None
    sep: str | None = None
    scheme: str | None = None
    time_column: str | None = None
    target: tuple[str, ...] | None = None
    id_column: str | None = None
    freq: str | None = None


def file_entry(role: str, path: str, stats: ByteStats, **extra: Any) -> dict[str, Any]:
    return {"role": role, "path": path, **stats.to_dict(), **extra}


def empty_lines(findings: Findings, name: str, stats: ByteStats, level: str, why: str) -> None:
    if stats.empty_lines:
        first = stats.first_empty[0]
        findings.add(level, "empty-lines", name, first, f"{stats.empty_lines:,} empty line(s) ({why}); the first "
                     f"on line {first}", count=0)
        finding = findings.items[("empty-lines", name)]
        finding.count = stats.empty_lines
        finding.examples = [{"file": name, "line": n, "detail": "empty line"} for n in stats.first_empty]


def add_pairs(findings: Findings, level: str, code: str, name: str, count: int, pairs: list[tuple[int, int]],
              message: str, detail: str, other: str | None = None) -> None:
    """One finding for `count` records, listed as (line, related line) pairs."""
    if not count:
        return
    findings.add(level, code, name, pairs[0][0] if pairs else None, message, count=0)
    finding = findings.items[(code, name)]
    finding.count = count
    finding.examples = [{"file": name, "line": line, "detail": detail.format(line=related, other=other or name)}
                        for line, related in pairs]


def duplicates(findings: Findings, name: str, index: HashIndex, what: str, level: str = "warning") -> dict:
    """Exact duplicate records of one file."""
    count, pairs, _, _ = index.duplicates()
    add_pairs(findings, level, "duplicates", name, count, pairs,
              f"{count:,} {what} repeat an earlier one exactly (of {len(index):,})", "repeats line {line}")
    return {"records": len(index), "duplicates": count}


def overlap(findings: Findings, valid_name: str, valid: HashIndex, train_name: str, train: HashIndex,
            what: str, level: str = "warning") -> dict:
    """Validation records that also occur in training (leakage)."""
    count, pairs = valid.overlap(train)
    share = count / len(valid) if len(valid) else 0.0
    add_pairs(findings, level, "train-valid-overlap", valid_name, count, pairs,
              f"{count:,} of {len(valid):,} validation {what} ({share:.1%}) also occur in {train_name} "
              "(leakage: validation figures will be optimistic)", "also {other}:{line}", train_name)
    return {"valid": valid_name, "train": train_name, "overlapping": count, "share": round(share, 4)}


def length_limit(findings: Findings, name: str, lengths: LengthStats, limit: int | None, verb: str,
                 option: str, what: str) -> None:
    """A warning for the records a training length limit would cut or drop."""
    if not limit or not lengths.over.get(limit):
        return
    count = lengths.over[limit]
    findings.add("warning", "over-max-len", name, lengths.high_line,
                 f"{count:,} {what} longer than {limit:,} {lengths.unit} would be {verb} by {option} {limit} "
                 f"(the longest, {lengths.high:,} {lengths.unit}, is on line {lengths.high_line})", count=0)
    findings.items[("over-max-len", name)].count = count


def label_findings(findings: Findings, train_name: str, train: LabelCounts, valid_name: str | None,
                   valid: LabelCounts | None, unseen_level: str, hint: str, imbalance: bool = True) -> dict:
    """Imbalance of the training labels; validation labels that training lacks. (Tags are
    imbalanced by nature, "O" outnumbering the rest: the tagger's check skips that part.)"""
    ratio = train.imbalance() if imbalance else None
    if ratio is not None and ratio >= IMBALANCE_WARNING:
        (big, most), (small, least) = train.counts.most_common()[0], train.counts.most_common()[-1]
        findings.add("warning", "label-imbalance", train_name, None,
                     f"labels are imbalanced: {big!r} has {most:,} examples, {small!r} {least:,} "
                     f"({ratio:.0f}x); consider --class-weights balanced and --metric macro_f1")
    if train.overflow:
        findings.add("warning", "too-many-labels", train_name, None, f"more than {len(train.counts):,} distinct "
                     "labels (is the label column holding text?)")
    unseen: list[str] = []
    if valid is not None:
        unseen = sorted((label for label in valid.counts if label not in train.counts), key=valid.first.get)
    if unseen:
        shown = ", ".join(repr(label) for label in unseen[:5]) + (" ..." if len(unseen) > 5 else "")
        examples = sum(valid.counts[label] for label in unseen)
        findings.add(unseen_level, "unseen-label", valid_name, valid.first[unseen[0]],
                     f"{len(unseen):,} label(s) never occur in {train_name} ({examples:,} example(s)): {shown}{hint}",
                     count=0)
        finding = findings.items[("unseen-label", valid_name)]
        finding.count = examples
        finding.examples = [{"file": valid_name, "line": valid.first[label], "detail": f"label {label!r}"}
                            for label in unseen[:5]]
    return {"unseen_in_training": unseen}
