"""`rnncli classify`, and how `rnncli eval` shows a classifier's report."""

from __future__ import annotations

from typing import Annotated, Any, Iterator, Optional

import typer

from rnncli.cli.common import (BatchSizeOpt, CkptArg, ContinueOpt, DeviceOpt, InputsArg, OutputDirOpt, OutputOpt,
                               QuietOpt, message)


def classify_cli(
    checkpoint: CkptArg,
    inputs: InputsArg = None,
    output: OutputOpt = None,
    output_dir: OutputDirOpt = None,
    resume: ContinueOpt = False,
    input_format: Annotated[str, typer.Option("--input-format", help="text (one document per line), tsv or csv (header first), jsonl, or fasttext.")] = "text",
    output_format: Annotated[Optional[str], typer.Option("--output-format", help="text, tsv or jsonl (default: text for text and fastText input, tsv for csv, else the input format).", show_default=False)] = None,
    text_field: Annotated[Optional[str], typer.Option("--text-field", help="Text column/key of tsv/csv/jsonl input (default: as in training, else text or sentence).", show_default=False)] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Labels to report per line, most probable first.")] = 1,
    min_prob: Annotated[Optional[float], typer.Option("--min-prob", help="Abstain below this probability: the label becomes ? (null in JSONL); the probability and top-k stay.", show_default=False)] = None,
    max_input_tokens: Annotated[Optional[int], typer.Option("--max-input-tokens", min=1, help="Cut longer texts to this many tokens (default: the training --max-length).", show_default=False)] = None,
    batch_size: BatchSizeOpt = 256,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Classify each input line; exactly one output line per input line, in input order
    (a blank line gives a blank line), written as it is produced."""
    from rnncli.api import load
    from rnncli.checkpoint import read_config
    from rnncli.cli.batch_io import RunOptions, plan_jobs, run_jobs, total
    from rnncli.readers.labelled import InputRows
    from rnncli.runtime import inference_group
    from rnncli.tasks.classify_output import check_min_prob, check_output_format, default_output_format

    output_format = output_format or default_output_format(input_format)
    check_output_format(output_format)
    check_min_prob(min_prob, ())
    InputRows(input_format, "-", text_field)   # checks --input-format before the model loads
    jobs = plan_jobs(inputs, output, output_dir, resume)
    with inference_group(device) as env:
        read_config(checkpoint, "classify")
        classifier = load(checkpoint, device)
        if max_input_tokens is not None:
            classifier.max_input_tokens = max_input_tokens
        check_min_prob(min_prob, classifier.labels)
        work = ClassifyWork(classifier, input_format, output_format, text_field, top_k, batch_size, min_prob)
        options = RunOptions("classify", checkpoint, {"input_format": input_format, "output_format": output_format,
                                                      "text_field": work.text_field, "top_k": top_k,
                                                      "min_prob": min_prob,
                                                      "max_input_tokens": classifier.max_input_tokens,
                                                      "batch_size": batch_size}, resume=resume, quiet=quiet)
        run_jobs(work, jobs, options, env)
        cropped = total(classifier.cropped, env)
        if cropped and env.is_main:
            message(f"{cropped:,} text(s) longer than {classifier.max_input_tokens:,} tokens were cut "
                    "to that length (--max-input-tokens)", quiet)


class ClassifyWork:
    """Lines in, one output line each (batch_io.Work); a TSV/CSV header is read per file."""

    def __init__(self, classifier, input_format: str, output_format: str, text_field: str | None,
                 top_k: int, batch_size: int, min_prob: float | None = None):
        self.classifier, self.input_format, self.output_format = classifier, input_format, output_format
        self.text_field = text_field or classifier.config["options"].get("text_field")
        self.top_k, self.batch_size, self.min_prob = top_k, batch_size, min_prob
        self.rows = None

    def items(self, path: str) -> Iterator[tuple[int, tuple[int, str]]]:
        from rnncli.readers.labelled import InputRows
        from rnncli.readers.text import display_name, iter_lines

        self.rows = InputRows(self.input_format, display_name(path), self.text_field)
        return ((number, (number, line)) for number, line in iter_lines(path))

    def chunk_size(self, path: str) -> int:
        return max(self.batch_size, 64) * 4

    def render(self, items: list[tuple[int, str]]) -> str:
        from rnncli.tasks.classify_output import classify_chunk

        lines = classify_chunk(self.classifier, self.rows, items, self.output_format, self.top_k, self.batch_size,
                               self.min_prob)
        return "".join(line + "\n" for line in lines)

    def pass_over(self, items: list[tuple[int, str]]) -> None:
        """Lines done elsewhere; a table's header among them is read, as later rows need it."""
        if self.rows.fmt in ("tsv", "csv") and self.rows.header is None:
            for number, line in items:
                self.rows.parse(number, line)
                if self.rows.header is not None:
                    return


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
    if "min_prob" in report:
        console.print(abstention_line(report))
    per_class = Table(title="per class", title_justify="left")
    for column in ("label", "precision", "recall", "f1", "support"):
        per_class.add_column(column, justify="left" if column == "label" else "right")
    for label, row in report["per_class"].items():
        per_class.add_row(label, *(percent(row[k]) for k in ("precision", "recall", "f1")), f"{row['support']:,}")
    console.print(per_class)
    console.print(confusion_table(report["confusion_matrix"]))
    from rnncli.cli.calibration_view import render_calibration

    render_calibration(report, console)


def abstention_line(report: dict[str, Any]) -> str:
    """The coverage at --min-prob and the accuracy of the predictions it keeps."""
    accuracy = report["covered_accuracy"]
    shown = "n/a (nothing covered)" if accuracy is None else percent(accuracy)
    return (f"at --min-prob {report['min_prob']:g}: coverage {percent(report['coverage'])}% "
            f"({report['covered']:,} of {report['covered'] + report['abstained']:,} covered, "
            f"{report['abstained']:,} abstained), accuracy on the covered {shown}")


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
