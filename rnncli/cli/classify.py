"""`rnncli train classify`, `rnncli classify`, and the classification part of `rnncli eval`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from rnncli.cli.common import BatchSizeOpt, CkptArg, DeviceOpt, InputArg, OutputOpt, QuietOpt, message
from rnncli.cli.streams import chunked, output_stream
from rnncli.cli.train_options import opt, training_command


@training_command
def train_classify_cli(
    train: Annotated[Path, typer.Option("--train", help="Training data: TSV/CSV with a header, JSONL, or fastText lines.", show_default=False)],
    valid: Annotated[Path, typer.Option("--valid", help="Validation data, same format.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint directory to write.", show_default=False)],
    format: opt(str, "--format", help="tsv|csv|jsonl|fasttext (default: from the file extension).") = None,
    text_field: opt(str, "--text-field", help="Text column/key (default: the first of text, sentence).") = None,
    label_field: opt(str, "--label-field", help="Label column/key (default: label).") = None,
    pooling: opt(str, "--pooling", help="last|mean|max|attention over the RNN outputs (default max).") = None,
    class_weights: opt(str, "--class-weights", help="none|balanced: weight the loss by inverse class frequency (default none).") = None,
    allow_unseen_labels: opt(bool, "--allow-unseen-labels/--no-allow-unseen-labels", help="Accept validation labels that never occur in training.") = None,
    metric: opt(str, "--metric", help="accuracy|macro_f1: picks the best checkpoint and early stopping (default accuracy).") = None,
    max_length: opt(int, "--max-length", help="Cut texts to this many tokens (default 400).") = None,
    max_tokens: opt(int, "--max-tokens", help="Token budget per batch (padded), on top of --batch-size.") = None,
    options: dict = None,
) -> None:
    from rnncli.cli.train_view import render_training
    from rnncli.tasks.classify import train_classify

    own = {"format": format, "text_field": text_field, "label_field": label_field, "pooling": pooling,
           "class_weights": class_weights, "allow_unseen_labels": allow_unseen_labels, "metric": metric,
           "max_length": max_length, "max_tokens": max_tokens}
    events = train_classify({**options, **own}, train, valid, out, options["resume"])
    render_training(events, quiet=options["quiet"], as_json=options["json"])


def classify_cli(
    checkpoint: CkptArg,
    input: InputArg = "-",
    output: OutputOpt = None,
    input_format: Annotated[str, typer.Option("--input-format", help="text (one document per line), tsv (header first) or jsonl.")] = "text",
    output_format: Annotated[Optional[str], typer.Option("--output-format", help="text, tsv or jsonl (default: text for text input, else the input format).", show_default=False)] = None,
    text_field: Annotated[Optional[str], typer.Option("--text-field", help="Text column/key of tsv/jsonl input (default: as in training, else text or sentence).", show_default=False)] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Labels to report per line, most probable first.")] = 1,
    batch_size: BatchSizeOpt = 256,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Classify each input line; exactly one output line per input line, in input order
    (a blank line gives a blank line), written as it is produced."""
    from rnncli.readers.labelled import InputRows
    from rnncli.readers.text import display_name, iter_lines
    from rnncli.tasks.classify import load_classifier
    from rnncli.tasks.classify_output import check_output_format, classify_chunk

    output_format = output_format or input_format
    check_output_format(output_format)
    rows = InputRows(input_format, display_name(input), text_field)
    loaded = load_classifier(checkpoint, device)
    rows.text_field = text_field or loaded.config["options"].get("text_field")
    with output_stream(output) as stream:
        for chunk in chunked(iter_lines(input), max(batch_size, 64) * 4, input == "-"):
            for line in classify_chunk(loaded, rows, chunk, output_format, top_k, batch_size):
                stream.write(line + "\n")
            stream.flush()


def evaluate_checkpoint(checkpoint: Path, data: list[str], opts) -> dict[str, Any]:
    from rnncli.errors import UsageError
    from rnncli.tasks.classify import evaluate_classifier

    if len(data) != 1:
        raise UsageError("a classifier is evaluated on one labelled file: rnncli eval CKPT FILE")
    report = evaluate_classifier(checkpoint, Path(data[0]), opts.device, opts.batch_size)
    if report["unseen_labels"]:
        message(f"warning: {len(report['unseen_labels'])} label(s) of {data[0]} never occur in training "
                f"and cannot be predicted: {', '.join(report['unseen_labels'][:5])}", opts.quiet)
    return report


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
