"""Scoring a classification output file against gold labels (`rnncli eval --pred --gold`).

Gold is any labelled file `rnncli train classify` reads (readers/labelled.py: TSV/CSV with a
header, JSONL, fastText), read by the same reader with the same --text-field/--label-field,
so its examples are exactly the ones `rnncli eval CKPT GOLD` scores. Predictions are what
`rnncli classify` writes (tasks/classify_output.py), in any of its output formats:

    text     LABEL<TAB>PROB[<TAB>LABEL_2<TAB>PROB_2...]; a bare LABEL per line works too
    tsv/csv  a header row with `predicted` and `probability` columns, then the rows
    jsonl    records with "predicted"

Blank lines and the header row carry no prediction and are skipped, as the gold reader
skips blank lines: the n-th prediction is the n-th gold example. An abstention under
`classify --min-prob` (`?`, or null in JSONL), or an empty prediction, counts as wrong
(metrics/classification.py); the report adds coverage, the share of examples with a label,
and the accuracy of those. The label set is the gold's: a predicted label the gold never
uses is an error naming its line (usually the wrong --gold, or files that do not line up).

Whether a --gold file is classification data or CoNLL tags is told from the files
(`gold_task`: the gold's name and first line, the prediction file's first line), or given
with `eval --task`. Detection rather than a required option: CoNLL scoring worked without
one before, and the shapes that mean classification (JSON, `__label__`, a header with text
and label columns, classify's `predicted`/`probability` header) are never CoNLL lines.
`?` is an abstention unless the gold has a `?` label (`classify --min-prob` refuses such models).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from rnncli.errors import DataError, UsageError
from rnncli.readers.labelled import (EXTENSIONS, FASTTEXT_PREFIX, LABEL_FIELD, TEXT_FIELDS, Example,
                                     parse_json_object, read_labelled)
from rnncli.readers.text import STDIN, Source, display_name, open_binary, read_lines
from rnncli.tasks.classify_output import ABSTAIN

TASKS = ("classify", "tag")
PEEK = 1 << 16              # bytes of a --gold file read to tell its kind
PREDICTION_COLUMNS = ("predicted", "probability")   # the header of classify's table output


def gold_task(gold: str | Path, given: str | None = None, text_field: str | None = None,
              label_field: str | None = None, pred: str | Path | None = None) -> str:
    """"classify" or "tag": `given` (eval --task), else what the files look like. A gold
    name that only labelled data has (.jsonl, .csv, .ft ...), a gold first line that only
    labelled data has (a JSON object, a fastText label, a header with a text and a label
    column), or a prediction file that only `rnncli classify` writes (JSONL, or a header
    with `predicted` and `probability`) is classification; anything else is read as CoNLL,
    as before classification files could be scored. Standard input is not peeked at (it
    cannot be read twice)."""
    if given is not None:
        if given not in TASKS:
            raise UsageError(f"--task {given!r} is not one of: {', '.join(TASKS)}")
        return given
    if EXTENSIONS.get(Path(str(gold)).suffix.lower(), "tsv") != "tsv":
        return "classify"
    if sniff_format(peek(gold), text_field, label_field):
        return "classify"
    head = first_line(peek(pred)) if pred is not None else ""
    if head.lstrip().startswith("{") or all(c in head.split("\t") for c in PREDICTION_COLUMNS):
        return "classify"
    return "tag"


def peek(path: str | Path) -> str:
    """The start of a file, for telling its kind; "" where it cannot be read (the reader
    that follows names the problem) and for standard input."""
    if str(path) == STDIN:
        return ""
    try:
        with open_binary(path) as handle:
            return handle.read(PEEK).decode("utf-8", errors="replace")
    except (DataError, OSError):
        return ""


def looks_labelled(gold: str | Path) -> bool:
    """Whether a gold file read as CoNLL starts like a labelled table (a text column in its
    first line): then a CoNLL error is probably a label column of another name."""
    fields = first_line(peek(gold)).split("\t")
    return len(fields) > 1 and any(name in fields for name in TEXT_FIELDS)


def first_line(text: str) -> str:
    return next((line.rstrip("\r") for line in text.split("\n") if line.strip()), "")


def sniff_format(text: str, text_field: str | None, label_field: str | None) -> str | None:
    """The labelled format a file's first line shows (jsonl, fasttext, tsv, csv), or None."""
    line = first_line(text)
    if line.lstrip().startswith("{"):
        return "jsonl"
    if line.lstrip().startswith(FASTTEXT_PREFIX):
        return "fasttext"
    texts = (text_field,) if text_field else TEXT_FIELDS
    label = label_field or LABEL_FIELD
    for fmt, fields in (("tsv", line.split("\t")), ("csv", next(csv.reader([line]), []))):
        if label in fields and any(t in fields for t in texts):
            return fmt
    return None


def read_gold(gold: str | Path, text_field: str | None = None, label_field: str | None = None
              ) -> tuple[list[Example], list[str], str]:
    """(examples, labels in the trainer's order, the gold's name) of a labelled file: the
    format from the name, else from the first line."""
    from rnncli.tasks.classify import label_order

    source = Source(gold)
    fmt = None
    if Path(str(gold)).suffix.lower() not in EXTENSIONS:
        fmt = sniff_format(source.data[:PEEK].decode("utf-8", errors="replace"), text_field, label_field)
        if fmt is None:
            raise DataError(f"{source}: not classification data (expected a TSV/CSV header with a "
                            f"{label_field or LABEL_FIELD!r} and a text column, JSONL records, or "
                            f"{FASTTEXT_PREFIX}LABEL lines)")
    examples = read_labelled(source, fmt, text_field, label_field)
    return examples, label_order({e.label for e in examples}), str(source)


def read_predictions(pred: str | Path) -> tuple[list[tuple[int, str | None]], str]:
    """([(line, label: None for none, `?` perhaps an abstention)], the file's format) of a
    classify output file."""
    lines = read_lines(pred)
    name = display_name(pred)
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    if start == len(lines):
        raise DataError(f"{name}: no predictions (only blank lines)")
    head = lines[start]
    if head.lstrip().startswith("{"):
        return [(n, json_prediction(line, name, n)) for n, line in numbered(lines, start)], "jsonl"
    for fmt, fields in (("tsv", head.split("\t")), ("csv", split_csv(head, name, start + 1))):
        if all(column in fields for column in PREDICTION_COLUMNS):
            column = len(fields) - 1 - fields[::-1].index("predicted")   # the newest, if classified twice
            return [(n, table_prediction(line, fmt, len(fields), column, name, n))
                    for n, line in numbered(lines, start + 1)], fmt
    return [(n, label_or_none(line.split("\t")[0])) for n, line in numbered(lines, start)], "text"


def numbered(lines: list[str], start: int):
    """(line number, line) of the non-blank lines from index `start` on."""
    return ((i + 1, line) for i, line in enumerate(lines[start:], start) if line.strip())


def label_or_none(label: str) -> str | None:
    """The label of a text/tsv/csv prediction; None for an empty one (a row without text).
    `?` stays: it is an abstention unless the gold has such a label (classify --min-prob
    refuses models with it, so then it is a real prediction)."""
    label = label.strip()
    return label or None


def split_csv(line: str, name: str, number: int) -> list[str]:
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error as exc:
        raise DataError.at(name, number, f"malformed CSV ({exc})") from None


def table_prediction(line: str, fmt: str, width: int, column: int, name: str, number: int) -> str | None:
    fields = line.split("\t") if fmt == "tsv" else split_csv(line, name, number)
    if len(fields) != width:
        kind = "tab" if fmt == "tsv" else "comma"
        raise DataError.at(name, number, f"expected {width} {kind}-separated fields (as in the header), "
                                         f"found {len(fields)}")
    return label_or_none(fields[column])


def json_prediction(line: str, name: str, number: int) -> str | None:
    record = parse_json_object(line, name, number)
    if "predicted" not in record:
        raise DataError.at(name, number, 'no "predicted" key (expected rnncli classify JSONL output)')
    value = record["predicted"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError.at(name, number, f'"predicted" must be a label or null, found {json.dumps(value)[:40]}')
    return str(value).strip() or None


def aligned_predictions(pred: str | Path, examples: list[Example], labels: list[str], gold_name: str
                        ) -> tuple[list[int | None], str]:
    """(label index or None per gold example, the prediction file's format); a count that
    differs or a label the gold lacks is a DataError naming the place."""
    predictions, fmt = read_predictions(pred)
    name = display_name(pred)
    if len(predictions) > len(examples):
        line = predictions[len(examples)][0]
        raise DataError.at(name, line, f"prediction {len(examples) + 1} has no example: {gold_name} has "
                                       f"{len(examples)}, {name} has {len(predictions)} predictions (one per "
                                       "example; blank lines and a header are skipped)")
    if len(predictions) < len(examples):
        missing = examples[len(predictions)]
        raise DataError.at(gold_name, missing.line, f"example {len(predictions) + 1} has no prediction: "
                                                    f"{name} has {len(predictions)} predictions for "
                                                    f"{len(examples)} examples")
    index = {label: i for i, label in enumerate(labels)}
    ids: list[int | None] = []
    for line, label in predictions:
        if label == ABSTAIN and ABSTAIN not in index:
            label = None
        if label is not None and label not in index:
            shown = ", ".join(labels[:10]) + (", ..." if len(labels) > 10 else "")
            raise DataError.at(name, line, f"predicted label {label!r} is not a label of {gold_name} "
                                           f"(its labels: {shown})")
        ids.append(None if label is None else index[label])
    return ids, fmt


def coverage_report(gold: list[int], predicted: list[int | None]) -> dict[str, Any]:
    """Coverage (the share of examples with a label) and the accuracy of those, with the
    keys of the checkpoint report's --min-prob figures."""
    covered = [p == g for p, g in zip(predicted, gold) if p is not None]
    total = len(gold)
    return {"coverage": len(covered) / total if total else 0.0, "covered": len(covered),
            "abstained": total - len(covered), "covered_accuracy": sum(covered) / len(covered) if covered else None}


def score_prediction_file(pred: str | Path, gold_data: tuple[list[Example], list[str], str]
                          ) -> tuple[dict[str, Any], list[int], list[int | None]]:
    """(report, gold ids, predicted ids) of one prediction file against read gold data."""
    from rnncli.metrics.classification import classification_report

    examples, labels, gold_name = gold_data
    predicted, fmt = aligned_predictions(pred, examples, labels, gold_name)
    index = {label: i for i, label in enumerate(labels)}
    gold = [index[e.label] for e in examples]
    report = {"pred": display_name(pred), "gold": gold_name, "data": gold_name, "pred_format": fmt,
              **classification_report(gold, predicted, labels), **coverage_report(gold, predicted)}
    return report, gold, predicted


def evaluate_classification_file(pred: str | Path, gold: str | Path, text_field: str | None = None,
                                 label_field: str | None = None) -> dict[str, Any]:
    """The report of a classify output file against labelled gold data."""
    return score_prediction_file(pred, read_gold(gold, text_field, label_field))[0]
