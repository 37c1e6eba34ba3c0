"""Checks of labelled text for classification: TSV, CSV, JSONL and fastText files.

Each file is parsed as `train classify` parses it (the same column choice and the same
strict record rules from rnncli/readers/labelled.py), but a bad record is a finding and
the check goes on. Lengths are whitespace words (training cuts texts at --max-length
pieces; a word is at least one piece, so the count of longer texts is a lower bound).
"""

from __future__ import annotations

import csv
from typing import Any, Iterator

from rnncli.datacheck.common import (CheckOptions, add_pairs, duplicates, empty_lines, file_entry, label_findings,
                                     length_limit, overlap)
from rnncli.datacheck.report import Findings, Report
from rnncli.datacheck.scan import ByteStats, scan
from rnncli.datacheck.stats import HashIndex, LabelCounts, LengthStats, hash64
from rnncli.errors import DataError
from rnncli.readers.labelled import (FASTTEXT_PREFIX, checked_example, csv_problem, detect_format,
                                     header_columns, json_field, parse_json_object, pick_column,
                                     split_fasttext, LABEL_FIELD, TEXT_FIELDS)
from rnncli.readers.text import display_name


class LabelledFile:
    """The statistics of one labelled file, filled record by record."""

    def __init__(self, limit: int):
        self.lengths = LengthStats("words", [limit])
        self.labels = LabelCounts()
        self.index = HashIndex(with_value=True)     # key: the text; value: the label
        self.pairs = HashIndex()                    # text and label: exact duplicate examples

    def add(self, text: str, label: str, line: int) -> None:
        self.lengths.add(len(text.split()), line)
        self.labels.add(label, line)
        self.index.add(hash64(text), line, hash64(label))
        self.pairs.add(hash64(text, label), line)


def check_classify(files: dict[str, str], options: CheckOptions, findings: Findings,
                   default_max_len: int) -> Report:
    limit = options.max_len or default_max_len
    entries, seen = [], {}
    fmt = None
    for role in ("train", "valid"):
        if files.get(role) is None:
            continue
        name, stats, data = display_name(files[role]), ByteStats(), LabelledFile(limit)
        fmt = detect_format(files[role], options.format or (fmt if files[role] == "-" else None))
        for text, label, line in records(files[role], fmt, name, options, findings, stats):
            data.add(text, label, line)
        empty_lines(findings, name, stats, "note", "skipped when read")
        if not data.lengths.count and stats.lines:
            findings.add("error", "no-examples", name, None, "no examples (only a header, blank or bad lines)")
        length_limit(findings, name, data.lengths, limit, "cut", "--max-length", "text(s)")
        dups = duplicates(findings, name, data.pairs, "examples (text and label)")
        _, _, conflicts, conflict_pairs = data.index.duplicates()
        if conflicts:
            add_pairs(findings, "warning", "conflicting-labels", name, conflicts, conflict_pairs,
                      f"{conflicts:,} text(s) occur again with a different label", "label differs from line {line}")
        entries.append(file_entry(role, name, stats, format=fmt, records=data.lengths.count,
                                  lengths=data.lengths.to_dict(), labels=data.labels.to_dict(),
                                  duplicates={**dups, "conflicting_labels": conflicts}))
        seen[role] = (name, data)
    pairs: dict[str, Any] = {}
    if "train" in seen and "valid" in seen:
        (train_name, train), (valid_name, valid) = seen["train"], seen["valid"]
        level = "warning" if options.allow_unseen_labels else "error"
        hint = "" if options.allow_unseen_labels else "; training refuses this unless --allow-unseen-labels"
        pairs["labels"] = label_findings(findings, train_name, train.labels, valid_name, valid.labels, level, hint)
        pairs["overlap"] = overlap(findings, valid_name, valid.index, train_name, train.index, "texts")
    elif "train" in seen:
        pairs["labels"] = label_findings(findings, seen["train"][0], seen["train"][1].labels, None, None, "error", "")
    return Report("classify", entries, findings.sorted(), pairs)


def records(path: str, fmt: str, name: str, options: CheckOptions, findings: Findings,
            stats: ByteStats) -> Iterator[tuple[str, str, int]]:
    """(text, label, line) of every good record; every bad one becomes a finding."""
    lines = scan(path, findings, stats)
    if fmt == "csv":
        yield from csv_records(lines, name, options, findings)
    elif fmt == "tsv":
        yield from tsv_records(lines, name, options, findings)
    else:
        for number, line in lines:
            if not line.strip():
                continue
            try:
                yield line_record(fmt, line, name, number, options)
            except DataError as exc:
                findings.add_error(exc, name, "bad-record")


def line_record(fmt: str, line: str, name: str, number: int, options: CheckOptions) -> tuple[str, str, int]:
    if fmt == "fasttext":
        labels, text = split_fasttext(line)
        if not labels or not labels[0]:
            raise DataError.at(name, number, f"expected a line starting with {FASTTEXT_PREFIX}LABEL")
        if len(labels) > 1:
            raise DataError.at(name, number, "more than one label; only single-label classification is supported")
        example = checked_example(text, labels[0], name, number)
    else:
        record = parse_json_object(line, name, number)
        keys = list(record)
        text_key = pick_column(keys, options.text_field, TEXT_FIELDS, "text", name, number, "--text-field")
        label_key = pick_column(keys, options.label_field, (LABEL_FIELD,), "label", name, number, "--label-field")
        example = checked_example(json_field(record, text_key, name, number, "text"),
                                  json_field(record, label_key, name, number, "label"), name, number)
    return example.text, example.label, number


def tsv_records(lines, name: str, options: CheckOptions, findings: Findings) -> Iterator[tuple[str, str, int]]:
    columns = None
    for number, line in lines:
        if columns is None:
            try:
                header = line.split("\t")
                columns = (len(header), *header_columns(header, name, options.text_field, options.label_field))
            except DataError as exc:
                findings.add_error(exc, name, "bad-header")
                columns = (0, -1, -1)
            continue
        if columns[0] == 0 or not line.strip():
            continue   # without the header's columns nothing more can be read (but the bytes still are)
        fields = line.split("\t")
        try:
            if len(fields) != columns[0]:
                raise DataError.at(name, number, f"expected {columns[0]} tab-separated fields (as in the header), "
                                                 f"found {len(fields)}")
            example = checked_example(fields[columns[1]], fields[columns[2]], name, number)
            yield example.text, example.label, number
        except DataError as exc:
            findings.add_error(exc, name, "bad-record")


def csv_records(lines, name: str, options: CheckOptions, findings: Findings) -> Iterator[tuple[str, str, int]]:
    """CSV through the csv module (quoted fields may span lines); after a CSV syntax error
    the rest of the file is only scanned, as the parser cannot find its place again."""
    position = {"line": 0}

    def feed() -> Iterator[str]:
        for number, line in lines:
            position["line"] = number
            yield line + "\n"

    source = feed()
    reader = csv.reader(source, strict=True)
    try:
        header = next(reader)
        width, text_index, label_index = len(header), *header_columns(header, name, options.text_field,
                                                                     options.label_field)
        start = position["line"] + 1
        for fields in reader:
            number, start = start, position["line"] + 1
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            try:
                if len(fields) != width:
                    raise DataError.at(name, number, f"expected {width} comma-separated fields (as in the "
                                                     f"header), found {len(fields)}")
                example = checked_example(fields[text_index], fields[label_index], name, number)
                yield example.text, example.label, number
            except DataError as exc:
                findings.add_error(exc, name, "bad-record")
    except StopIteration:
        return
    except DataError as exc:
        findings.add_error(exc, name, "bad-header")
    except csv.Error as exc:
        findings.add("error", "bad-record", name, position["line"], csv_problem(exc))
    for _ in source:   # the rest of the file: its bytes are still checked
        pass
