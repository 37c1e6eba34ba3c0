"""Labelled text for classification: TSV/CSV with a header, JSONL, and fastText lines.

    TSV/CSV   a header row, then one row per example; the text column is --text-field
              (default: the first of `text`, `sentence`), the label column --label-field
              (default: `label`).
    JSONL     one JSON object per line with the same field names.
    fastText  `__label__pos some text` (exactly one label per line).

Every error names `file:line`: a missing column (listing the ones that exist), a row with
the wrong number of fields, an empty text or label, invalid JSON, an invalid UTF-8 byte.
JSON is read strictly: NaN/Infinity, lone UTF-16 surrogates (which cannot be written
back as UTF-8) and nesting deeper than MAX_JSON_DEPTH are refused, the last so that a
line of 200,000 `[` is a DataError rather than a RecursionError here or when the record
is written back out.
Wholly blank lines are skipped (trailing blank lines are common and carry nothing).
TSV is split on tabs without quoting (SST-2 and most NLP TSVs are written so: a `"` is
an ordinary character); CSV uses the csv module, so quoted fields may hold commas and
newlines. Lines end at "\n" only (as in readers/text.py), so a bare "\r" inside an
unquoted CSV field is an error naming its line, not a silent row break.

`InputRows` is the inference side: it parses one line at a time so `rnncli classify`
can stream, and keeps every field so output can pass them through.
"""

from __future__ import annotations

import csv
import io
import json
import re
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
# Leading fastText label tokens, split on ASCII blanks as fastText splits words. The two
# parts of each repetition cannot overlap, so matching is linear in the line's length.
FASTTEXT_LABELS = re.compile(r"[ \t\v\f\r]*((?:__label__[^ \t\v\f\r]*(?:[ \t\v\f\r]+|$))*)")
ASCII_BLANKS = re.compile(r"[ \t\v\f\r]+")
MAX_JSON_DEPTH = 100  # far beyond any real record, far below Python's recursion limit
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
SURROGATE = re.compile("[\ud800-\udfff]")


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
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
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
        raise DataError.at(name, reader.line_num, csv_problem(exc)) from None
    return examples


def csv_problem(exc: csv.Error) -> str:
    """The csv module's complaint, reworded where its own hint would mislead."""
    text = str(exc)
    if "new-line character" in text:
        return 'malformed CSV (a bare "\\r" in an unquoted field; lines must end in \\n or \\r\\n)'
    return f"malformed CSV ({text.splitlines()[0] if text else 'error'})"


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# One decoder built once: json.loads(..., parse_constant=...) would build one per call.
JSON_DECODER = json.JSONDecoder(parse_constant=reject_constant)


def parse_json_object(line: str, name: str, number: int) -> dict[str, Any]:
    try:
        record = JSON_DECODER.decode(line)
    except RecursionError:
        raise DataError.at(name, number, f"JSON nested too deeply (the limit is {MAX_JSON_DEPTH} "
                                         "levels)") from None
    except ValueError as exc:
        reason = str(exc.args[0] if exc.args else exc).split(":")[0].splitlines()[0]
        raise DataError.at(name, number, f"invalid JSON ({reason})") from None
    if not isinstance(record, dict):
        raise DataError.at(name, number, f"expected a JSON object, found {type(record).__name__}")
    deep = line.count("[") + line.count("{") > MAX_JSON_DEPTH
    if deep or SURROGATE_ESCAPE.search(line):  # the cheap tests spare the walk on most lines
        check_json_value(record, name, number)
    return record


def check_json_value(value: Any, name: str, number: int) -> None:
    """Refuse nesting past MAX_JSON_DEPTH and lone surrogates, walking without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise DataError.at(name, number, f"JSON nested too deeply (the limit is {MAX_JSON_DEPTH} "
                                             "levels)")
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and SURROGATE.search(item):
            raise DataError.at(name, number, "invalid JSON string (a lone UTF-16 surrogate escape, "
                                             "which is not a character)")


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


def split_fasttext(line: str) -> tuple[list[str], str]:
    """`__label__a __label__b some text` -> (["a", "b"], "some text")."""
    match = FASTTEXT_LABELS.match(line)
    tokens = ASCII_BLANKS.split(match.group(1))
    labels = [token[len(FASTTEXT_PREFIX):] for token in tokens if token]
    return labels, line[match.end():].strip()


def read_fasttext(lines: list[str], name: str) -> list[Example]:
    examples = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        labels, text = split_fasttext(line)
        if not labels or not labels[0]:
            raise DataError.at(name, number, f"expected a line starting with {FASTTEXT_PREFIX}LABEL")
        if len(labels) > 1:
            raise DataError.at(name, number, "more than one label; only single-label classification "
                                             "is supported")
        examples.append(checked_example(text, labels[0], name, number))
    return examples


class InputRows:
    """Parse inference input one line at a time: `text`, `tsv` or `csv` (header first),
    `jsonl`, or `fasttext` (`__label__X text` or bare text; the labels are kept, not used).

    `parse(number, line)` returns the text to classify (None for a blank line or the
    header) and the parsed fields, which the output formatter passes through: the line
    (text), the list of fields (tsv, csv; the header row is `self.header` itself), the
    record (jsonl), or {"text": ..., "labels": [...]} (fasttext).
    CSV is parsed line by line so input can stream: a quoted field spanning lines is
    refused, naming its line.
    """

    FORMATS = ("text", "tsv", "csv", "jsonl", "fasttext")

    def __init__(self, fmt: str, name: str, text_field: str | None = None):
        if fmt not in self.FORMATS:
            raise UsageError(f"--input-format {fmt!r} is not one of: {', '.join(self.FORMATS)}")
        self.fmt, self.name, self.text_field = fmt, name, text_field
        self.header: list[str] | None = None
        self.text_index = 0

    def parse(self, number: int, line: str) -> tuple[str | None, Any]:
        if self.fmt == "text":
            return (line if line.strip() else None), line
        if self.fmt in ("tsv", "csv"):
            return self.parse_row(number, line)
        if not line.strip():
            return None, None
        if self.fmt == "fasttext":
            labels, text = split_fasttext(line)
            return (text or None), {"text": text, "labels": labels}
        record = parse_json_object(line, self.name, number)
        key = pick_column(list(record), self.text_field, TEXT_FIELDS, "text", self.name, number,
                          "--text-field")
        text = json_field(record, key, self.name, number, "text")
        return (text if text.strip() else None), record

    def parse_row(self, number: int, line: str) -> tuple[str | None, Any]:
        if self.header is not None and not line.strip():
            return None, None
        fields = self.split_row(number, line)
        if self.header is None:
            self.header = fields
            self.text_index = fields.index(pick_column(
                fields, self.text_field, TEXT_FIELDS, "text", self.name, number, "--text-field"))
            return None, self.header
        if len(fields) != len(self.header):
            kind = "tab" if self.fmt == "tsv" else "comma"
            raise DataError.at(self.name, number, f"expected {len(self.header)} {kind}-separated "
                                                  f"fields (as in the header), found {len(fields)}")
        text = fields[self.text_index]
        return (text if text.strip() else None), fields

    def split_row(self, number: int, line: str) -> list[str]:
        if self.fmt == "tsv":
            return line.split("\t")
        try:
            return next(csv.reader([line], strict=True), [])
        except csv.Error as exc:
            if "unexpected end of data" in str(exc):
                raise DataError.at(self.name, number, "unterminated quoted CSV field (a field "
                                                      "spanning lines cannot be streamed; keep each "
                                                      "row on one line)") from None
            raise DataError.at(self.name, number, csv_problem(exc)) from None
