"""Output lines for `rnncli classify`: one per input line, fields passed through.

    text   PRED<TAB>PROB (with --top-k K: K label/probability pairs)
    tsv    the input's fields (the text, for text and fastText input), then the prediction
           columns; a TSV/CSV input's header row gains `predicted`, `probability` (and
           `_2`... for top-k)
    csv    the same, written as CSV (quoted where needed)
    jsonl  the input's record ({"text": ...} for text input; header keys for TSV/CSV input;
           {"text", "labels"} for fastText input) plus "predicted", "probability" and, with
           --top-k above 1, "top_k"

Probabilities are calibrated: softmax(logits / T) with the temperature T that training
fitted on the validation set (1.0 for checkpoints from before calibration).

With --min-prob P, a prediction whose probability is below P is abstained: its label is
ABSTAIN (`?`) in text/tsv/csv output and null in JSONL; its probability and the other
top-k columns stay (and JSONL's "top_k" still lists the best labels), so a reader sees why.

A blank input line gives a blank output line. A row whose text is empty keeps its fields
with empty prediction columns (null in JSONL). With TSV input and JSONL output the header
row becomes no line (its names are the records' keys).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Sequence

from rnncli.errors import DataError, UsageError
from rnncli.readers.labelled import InputRows

OUTPUT_FORMATS = ("text", "tsv", "csv", "jsonl")
ABSTAIN = "?"             # the label of an abstained prediction in text/tsv/csv output
TABLES = ("tsv", "csv")   # input formats with a header row


def default_output_format(input_format: str) -> str:
    return {"text": "text", "fasttext": "text"}.get(input_format, input_format)


def check_output_format(fmt: str) -> None:
    if fmt not in OUTPUT_FORMATS:
        raise UsageError(f"--output-format {fmt!r} is not one of: {', '.join(OUTPUT_FORMATS)}")


def check_min_prob(min_prob: float | None, labels: Sequence[str]) -> None:
    """--min-prob is a probability, and `?` must not already be one of the model's labels."""
    if min_prob is None:
        return
    check_probability(min_prob)
    if ABSTAIN in labels:
        raise UsageError(f"--min-prob: the model has a label {ABSTAIN!r}, the mark of an abstained "
                         "prediction; abstentions could not be told apart")


def check_probability(min_prob: float) -> None:
    if not 0.0 <= min_prob <= 1.0:   # NaN fails too
        raise UsageError(f"--min-prob {min_prob:g} is not a probability between 0 and 1")


def abstains(probability: float, min_prob: float | None) -> bool:
    """A prediction below --min-prob is abstained (P itself is kept)."""
    return min_prob is not None and probability < min_prob


def classify_chunk(loaded, rows: InputRows, chunk: Sequence[tuple[int, str]], output_format: str,
                   top_k: int, batch_size: int, min_prob: float | None = None) -> list[str]:
    """Output lines (without newlines) for a chunk of (line number, line) pairs, in order."""
    parsed = [(number, *rows.parse(number, line)) for number, line in chunk]
    texts = [text for _, text, _ in parsed if text is not None]
    probs = loaded.predict(texts, batch_size) if texts else None
    k = min(top_k, len(loaded.labels))
    ranked = iter(())
    if probs is not None:
        values, indices = probs.topk(k, dim=-1)
        ranked = iter(zip(values.tolist(), indices.tolist()))
    lines = []
    for number, text, fields in parsed:
        top = None
        if text is not None:
            scores, label_ids = next(ranked)
            top = [(loaded.labels[i], p) for i, p in zip(label_ids, scores)]
        abstained = top is not None and abstains(top[0][1], min_prob)
        line = format_line(rows, fields, top, output_format, k, number, abstained)
        if line is not None:
            lines.append(line)
    return lines


def prediction_columns(k: int) -> list[str]:
    names = ["predicted", "probability"]
    for rank in range(2, k + 1):
        names += [f"predicted_{rank}", f"probability_{rank}"]
    return names


def format_line(rows: InputRows, fields: Any, top: list[tuple[str, float]] | None,
                output_format: str, k: int, number: int = 0, abstained: bool = False) -> str | None:
    """One output line; None only for a TSV/CSV header under JSONL output. An abstained
    prediction keeps its probability and top-k but not its label."""
    if rows.fmt in TABLES and fields is rows.header:
        if output_format == "jsonl":
            return None
        header = prediction_columns(k)
        return join_fields(header if output_format == "text" else fields + header, output_format, rows, number)
    if fields is None or (rows.fmt == "text" and top is None):
        return ""                                     # a blank line stays blank
    pairs = [] if top is None else [x for label, p in top for x in (label, f"{p:.4f}")]
    if abstained:
        pairs[0] = ABSTAIN
    if output_format == "text":
        return "\t".join(pairs)
    if output_format in TABLES:
        passed = [fields] if rows.fmt == "text" else [fields["text"]] if rows.fmt == "fasttext" else list(fields)
        return join_fields(passed + (pairs or [""] * (2 * k)), output_format, rows, number)
    record = as_record(rows, fields)
    record["predicted"] = top[0][0] if top and not abstained else None
    record["probability"] = round(top[0][1], 6) if top else None
    if k > 1:
        record["top_k"] = [{"label": label, "probability": round(p, 6)} for label, p in top or []]
    return json.dumps(record, ensure_ascii=False)


def join_fields(fields: list[str], output_format: str, rows: InputRows, number: int) -> str:
    if output_format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="").writerow(fields)
        return buffer.getvalue()
    if any("\t" in field for field in fields):   # would shift every later column
        raise DataError.at(rows.name, number, "a field holds a tab, which TSV output cannot keep; "
                                              "use --output-format csv or jsonl")
    return "\t".join(fields)


def as_record(rows: InputRows, fields: Any) -> dict[str, Any]:
    if rows.fmt == "text":
        return {"text": fields}
    if rows.fmt in TABLES:
        return dict(zip(rows.header, fields))
    return dict(fields)
