"""`rnncli classify`, and how `rnncli eval` shows a classifier's report."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from rnncli.cli.common import BatchSizeOpt, CkptArg, DeviceOpt, InputArg, OutputOpt, QuietOpt, message
from rnncli.cli.streams import chunked, output_stream


def classify_cli(
    checkpoint: CkptArg,
    input: InputArg = "-",
    output: OutputOpt = None,
    input_format: Annotated[str, typer.Option("--input-format", help="text (one document per line), tsv or csv (header first), jsonl, or fasttext.")] = "text",
    output_format: Annotated[Optional[str], typer.Option("--output-format", help="text, tsv or jsonl (default: text for text and fastText input, tsv for csv, else the input format).", show_default=False)] = None,
    text_field: Annotated[Optional[str], typer.Option("--text-field", help="Text column/key of tsv/csv/jsonl input (default: as in training, else text or sentence).", show_default=False)] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Labels to report per line, most probable first.")] = 1,
    max_input_tokens: Annotated[Optional[int], typer.Option("--max-input-tokens", min=1, help="Cut longer texts to this many tokens (default: the training --max-length).", show_default=False)] = None,
    batch_size: BatchSizeOpt = 256,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Classify each input line; exactly one output line per input line, in input order
    (a blank line gives a blank line), written as it is produced."""
    from rnncli.api import load
    from rnncli.checkpoint import read_config
    from rnncli.readers.labelled import InputRows
    from rnncli.readers.text import display_name, iter_lines
    from rnncli.tasks.classify_output import check_output_format, classify_chunk, default_output_format

    output_format = output_format or default_output_format(input_format)
    check_output_format(output_format)
    rows = InputRows(input_format, display_name(input), text_field)
    read_config(checkpoint, "classify")
    classifier = load(checkpoint, device)
    rows.text_field = text_field or classifier.config["options"].get("text_field")
    if max_input_tokens is not None:
        classifier.max_input_tokens = max_input_tokens
    with output_stream(output) as stream:
        for chunk in chunked(iter_lines(input), max(batch_size, 64) * 4, input == "-"):
            for line in classify_chunk(classifier, rows, chunk, output_format, top_k, batch_size):
                stream.write(line + "\n")
            stream.flush()
    if classifier.cropped:
        message(f"{classifier.cropped:,} text(s) longer than {classifier.max_input_tokens:,} tokens were cut "
                "to that length (--max-input-tokens)", quiet)


def warn(report: dict[str, Any], data: list[str], quiet: bool) -> None:
    if report["unseen_labels"]:
        message(f"warning: {len(report['unseen_labels'])} label(s) of {data[0]} never occur in training "
                f"and cannot be predicted: {', '.join(report['unseen_labels'][:5])}", quiet)


def render_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    summary = Table(title=f"classification: {report['data']} ({report['examples']:,} examples)",
                    title_justify="left")
    for column in ("average", "precision", "recall", "f1"):
        summary.add_column(column, justify="left" if column == "average" else "right")
    for kind in ("macro", "micro"):
        summary.add_row(kind, *(percent(report[f"{kind}_{m}"]) for m in ("precision", "recall", "f1")))
    summary.caption = f"accuracy {percent(report['accuracy'])}"
    console.print(summary)
    per_class = Table(title="per class", title_justify="left")
    for column in ("label", "precision", "recall", "f1", "support"):
        per_class.add_column(column, justify="left" if column == "label" else "right")
    for label, row in report["per_class"].items():
        per_class.add_row(label, *(percent(row[k]) for k in ("precision", "recall", "f1")), f"{row['support']:,}")
    console.print(per_class)
    console.print(confusion_table(report["confusion_matrix"]))


def confusion_table(matrix: dict[str, Any]):
    from rich.table import Table

    table = Table(title="confusion matrix (rows: gold, columns: predicted)", title_justify="left")
    table.add_column("gold \\ predicted")
    for label in matrix["labels"]:
        table.add_column(label, justify="right")
    for index, (label, row) in enumerate(zip(matrix["labels"], matrix["rows"])):
        cells = [f"[bold green]{n:,}[/]" if i == index else (f"[red]{n:,}[/]" if n else "0")
                 for i, n in enumerate(row)]
        table.add_row(label, *cells)
    return table


def percent(value: float) -> str:
    return f"{value * 100:.2f}"
