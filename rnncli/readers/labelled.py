"""Labelled text for classification: TSV/CSV with a header, JSONL, and fastText lines.

    TSV/CSV   a header row, then one row per example; the text column is --text-field
              (default: the first of `text`, `sentence`), the label column --label-field
              (default: `label`).
    JSONL     one JSON object per line with the same field names.
    fastText  `__label__pos some text` (exactly one label per line).

Every error names `file:line`: a missing column (listing the ones that exist), a row with
the wrong number of fields, an empty text or label, invalid JSON, an invalid UTF-8 byte.
Wholly blank lines are skipped (trailing blank lines are common and carry nothing).
TSV is split on tabs without quoting (SST-2 and most NLP TSVs are written so: a `"` is
an ordinary character); CSV uses the csv module, so quoted fields may hold commas and
newlines.

`InputRows` is the inference side: it parses one line at a time so `rnncli classify`
can stream, and keeps every field so output can pass them through.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnncli.errors import DataError, UsageError
from rnncli.readers.text import read_text, split_lines

FORMATS = ("tsv", "csv", "jsonl", "fasttext")
EXTENSIONS = {".tsv": "tsv", ".tab": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".json": "jsonl", ".ft": "fasttext", ".fasttext": "fasttext"}
TEXT_FIELDS = ("text", "sentence")
LABEL_FIELD = "label"
FASTTEXT_PREFIX = "__label__"


@dataclass(frozen=True)
class Example:
    """One labelled example and the line it starts on (for error messages)."""

    text: str
    label: str
    line: int


def detect_format(path: str | Path, given: str | None = None) -> str:
    """The format named by --format, else by the file's extension."""
    if given is not None:
        if given not in FORMATS:
            raise UsageError(f"--format {given!r} is not one of: {', '.join(FORMATS)}")
        return given
    suffix = Path(str(path)).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    raise UsageError(f"{path}: cannot tell the format from the extension {suffix or '(none)'!r}; "
                     f"give --format {'|'.join(FORMATS)}")


def read_labelled(path: str | Path, fmt: str | None = None, text_field: str | None = None,
                  label_field: str | None = None) -> list[Example]:
    """All examples of a labelled file; any defect is a DataError naming file:line."""
    fmt = detect_format(path, fmt)
    text = read_text(path)
    name = str(path)
    if fmt == "fasttext":
        examples = read_fasttext(split_lines(text), name)
    elif fmt == "jsonl":
        examples = read_jsonl(split_lines(text), name, text_field, label_field)
    elif fmt == "csv":
        examples = read_csv(text, name, text_field, label_field)
    else:
        examples = read_tsv(split_lines(text), name, text_field, label_field)
    if not examples:
        raise DataError(f"{name}: no examples (only a header or blank lines)")
    return examples


def pick_column(columns: list[str], wanted: str | None, defaults: tuple[str, ...], role: str,
                name: str, line: int, option: str) -> str:
    """The column for `role`: the one asked for, else the first default present."""
    candidates = (wanted,) if wanted is not None else defaults
    for candidate in candidates:
        if candidate in columns:
            return candidate
    asked = repr(wanted) if wanted is not None else " or ".join(repr(c) for c in defaults)
    shown = ", ".join(repr(c) for c in columns) or "none"
    raise DataError.at(name, line, f"no {role} column {asked}; the columns are {shown} "
                                   f"(choose one with {option})")


def header_columns(header: list[str], name: str, text_field: str | None,
                   label_field: str | None, line: int = 1) -> tuple[int, int]:
    text_col = pick_column(header, text_field, TEXT_FIELDS, "text", name, line, "--text-field")
    label_col = pick_column(header, label_field, (LABEL_FIELD,), "label", name, line, "--label-field")
    return header.index(text_col), header.index(label_col)


def checked_example(text: str, label: str, name: str, line: int) -> Example:
    if not text.strip():
        raise DataError.at(name, line, "empty text")
    if not label.strip():
        raise DataError.at(name, line, "empty label")
    return Example(text, label.strip(), line)


def read_tsv(lines: list[str], name: str, text_field: str | None,
             label_field: str | None) -> list[Example]:
    if not lines:
        raise DataError(f"{name}: file is empty")
    header = lines[0].split("\t")
    text_index, label_index = header_columns(header, name, text_field, label_field)
    examples = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError.at(name, number, f"expected {len(header)} tab-separated fields (as in the "
                                             f"header), found {len(fields)}")
        examples.append(checked_example(fields[text_index], fields[label_index], name, number))
    return examples


def read_csv(text: str, name: str, text_field: str | None, label_field: str | None) -> list[Example]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        text_index, label_index = header_columns(header, name, text_field, label_field)
        examples = []
        previous_end = reader.line_num
        for fields in reader:
            number, previous_end = previous_end + 1, reader.line_num
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            if len(fields) != len(header):
                raise DataError.at(name, number, f"expected {len(header)} comma-separated fields "
                                                 f"(as in the header), found {len(fields)}")
            examples.append(checked_example(fields[text_index], fields[label_index], name, number))
    except StopIteration:
        raise DataError(f"{name}: file is empty") from None
    except csv.Error as exc:
        raise DataError.at(name, reader.line_num, f"malformed CSV ({exc})") from None
    return examples


def parse_json_object(line: str, name: str, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise DataError.at(name, number, f"invalid JSON ({exc.args[0].split(':')[0]})") from None
    if not isinstance(record, dict):
        raise DataError.at(name, number, f"expected a JSON object, found {type(record).__name__}")
    return record


def json_field(record: dict[str, Any], key: str, name: str, number: int, role: str) -> str:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError.at(name, number, f"{role} field {key!r} must be a string"
                                         f"{' or an integer' if role == 'label' else ''}, "
                                         f"found {json.dumps(value)[:40]}")
    return str(value)


def read_jsonl(lines: list[str], name: str, text_field: str | None,
               label_field: str | None) -> list[Example]:
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = parse_json_object(line, name, number)
        keys = list(record)
        text_key = pick_column(keys, text_field, TEXT_FIELDS, "text", name, number, "--text-field")
        label_key = pick_column(keys, label_field, (LABEL_FIELD,), "label", name, number, "--label-field")
        text = json_field(record, text_key, name, number, "text")
        label = json_field(record, label_key, name, number, "label")
        examples.append(checked_example(text, label, name, number))
    return examples


def read_fasttext(lines: list[str], name: str) -> list[Example]:
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        first, _, rest = line.strip().partition(" ")
        if not first.startswith(FASTTEXT_PREFIX) or first == FASTTEXT_PREFIX:
            raise DataError.at(name, number, f"expected a line starting with {FASTTEXT_PREFIX}LABEL")
        if rest.lstrip().startswith(FASTTEXT_PREFIX):
            raise DataError.at(name, number, "more than one label; only single-label classification "
                                             "is supported")
        examples.append(checked_example(rest.strip(), first[len(FASTTEXT_PREFIX):], name, number))
    return examples


class InputRows:
    """Parse inference input one line at a time: `text`, `tsv` (header first) or `jsonl`.

    `parse(number, line)` returns the text to classify (None for a blank line or the
    header) and the parsed fields, which the output formatter passes through.
    """

    FORMATS = ("text", "tsv", "jsonl")

    def __init__(self, fmt: str, name: str, text_field: str | None = None):
        if fmt not in self.FORMATS:
            raise UsageError(f"--input-format {fmt!r} is not one of: {', '.join(self.FORMATS)}")
        self.fmt, self.name, self.text_field = fmt, name, text_field
        self.header: list[str] | None = None
        self.text_index = 0

    def parse(self, number: int, line: str) -> tuple[str | None, Any]:
        if self.fmt == "text":
            return (line if line.strip() else None), line
        if self.fmt == "tsv":
            return self.parse_tsv(number, line)
        if not line.strip():
            return None, None
        record = parse_json_object(line, self.name, number)
        key = pick_column(list(record), self.text_field, TEXT_FIELDS, "text", self.name, number,
                          "--text-field")
        text = json_field(record, key, self.name, number, "text")
        return (text if text.strip() else None), record

    def parse_tsv(self, number: int, line: str) -> tuple[str | None, Any]:
        if self.header is None:
            self.header = line.split("\t")
            self.text_index = self.header.index(pick_column(
                self.header, self.text_field, TEXT_FIELDS, "text", self.name, number, "--text-field"))
            return None, self.header
        if not line.strip():
            return None, None
        fields = line.split("\t")
        if len(fields) != len(self.header):
            raise DataError.at(self.name, number, f"expected {len(self.header)} tab-separated fields "
                                                  f"(as in the header), found {len(fields)}")
        text = fields[self.text_index]
        return (text if text.strip() else None), fields
