"""`rnncli tag`, and how `rnncli eval` shows a tagging report."""

from __future__ import annotations

from typing import Annotated, Any, Iterator, Optional

import typer

from rnncli.cli.common import (BatchSizeOpt, CkptArg, ContinueOpt, DeviceOpt, InputsArg, OutputDirOpt, OutputOpt,
                               QuietOpt, message)


def tag_cli(
    checkpoint: CkptArg,
    inputs: InputsArg = None,
    output: OutputOpt = None,
    output_dir: OutputDirOpt = None,
    resume: ContinueOpt = False,
    input_format: Annotated[str, typer.Option("--input-format", help="text (one sentence per line, words split on whitespace) or conll.")] = "text",
    output_format: Annotated[Optional[str], typer.Option("--output-format", help="conll, jsonl or inline (word/TAG); default: inline for text, conll for conll.", show_default=False)] = None,
    output_scheme: Annotated[Optional[str], typer.Option("--output-scheme", help="iob1|iob2|bioes (default: the training data's scheme).", show_default=False)] = None,
    word_column: Annotated[Optional[int], typer.Option("--word-column", help="Word column of CoNLL input (default: as in training).", show_default=False)] = None,
    sep: Annotated[Optional[str], typer.Option("--sep", help="CoNLL column separator: space or tab (default: as in training).", show_default=False)] = None,
    max_input_tokens: Annotated[Optional[int], typer.Option("--max-input-tokens", min=1, help="Longer sentences are tagged in pieces of this many tokens (default: twice the longest training sentence, at least 256).", show_default=False)] = None,
    batch_size: BatchSizeOpt = 128,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Tag text or CoNLL input: one output line per input line for text; for CoNLL every
    input line again, token lines with the tag appended. Output is written as it is produced."""
    from rnncli.api import load
    from rnncli.checkpoint import read_config
    from rnncli.cli.batch_io import RunOptions, plan_jobs, run_jobs, total
    from rnncli.errors import UsageError
    from rnncli.runtime import inference_group
    from rnncli.tasks.tag_output import INPUT_FORMATS, OUTPUT_FORMATS

    if input_format not in INPUT_FORMATS:
        raise UsageError(f"--input-format {input_format!r}: choose text or conll")
    output_format = output_format or ("inline" if input_format == "text" else "conll")
    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--output-format {output_format!r}: choose conll, jsonl or inline")
    jobs = plan_jobs(inputs, output, output_dir, resume)
    with inference_group(device) as env:
        read_config(checkpoint, "tag")
        tagger = load(checkpoint, device)
        work = TagWork(tagger, input_format, output_format, tagger.output_scheme(output_scheme), word_column, sep,
                       batch_size, max_input_tokens)
        options = RunOptions("tag", checkpoint, {"input_format": input_format, "output_format": output_format,
                                                 "scheme": work.scheme, "word_column": word_column, "sep": sep,
                                                 "batch_size": batch_size, "max_input_tokens": max_input_tokens},
                             resume=resume, quiet=quiet)
        run_jobs(work, jobs, options, env)
        split = total(tagger.split_lines, env)
        if split and env.is_main:
            message(f"{split:,} sentence(s) longer than {tagger.input_limit(max_input_tokens):,} tokens "
                    "were tagged in pieces (--max-input-tokens)", quiet)


class TagWork:
    """Text lines, or CoNLL sentences and the blank/-DOCSTART- lines between them, in; each
    item's output text out (batch_io.Work). An item's place is its last input line."""

    def __init__(self, tagger, input_format: str, output_format: str, scheme: str, word_column: int | None,
                 sep: str | None, batch_size: int, max_input_tokens: int | None):
        self.tagger, self.input_format, self.output_format, self.scheme = tagger, input_format, output_format, scheme
        self.word_column, self.sep, self.batch_size, self.limit = word_column, sep, batch_size, max_input_tokens

    def items(self, path: str) -> Iterator[tuple[int, Any]]:
        from rnncli.readers.text import iter_lines
        from rnncli.tasks.tag_output import TextLine

        if self.input_format == "text":
            return ((number, TextLine.parse(line)) for number, line in iter_lines(path))
        items = self.tagger.input_items(path, self.input_format, self.word_column, self.sep)
        return ((item.lines[-1] if hasattr(item, "rows") else item.line, item) for item in items)

    def chunk_size(self, path: str) -> int:
        return self.batch_size

    def render(self, items: list[Any]) -> str:
        return "".join(self.tagger.output_lines(items, self.output_format, self.scheme, self.batch_size, self.limit))

    def pass_over(self, items: list[Any]) -> None:
        """Tagging keeps no state across sentences."""


def render_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    summary = Table(title=f"tagging: {report.get('mode', '')}", title_justify="left")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for key in ("precision", "recall", "f1", "accuracy"):
        summary.add_row(key, f"{report[key] * 100:.2f}")
    summary.add_row("invalid transitions", f"{report['invalid_transitions']:,}"
                    + (" (unconstrained decoding)" if "invalid_transitions_scheme" in report else ""))
    summary.add_row("sentences / tokens", f"{report['sentences']:,} / {report['tokens']:,}")
    if report.get("converted"):
        summary.caption = f"schemes differ: {report['converted']} (through entity spans)"
    console.print(summary)
    per_type = Table(title="per type", title_justify="left")
    for column in ("type", "precision", "recall", "f1", "support"):
        per_type.add_column(column, justify="left" if column == "type" else "right")
    for name, row in report["per_type"].items():
        per_type.add_row(name, *(f"{row[k] * 100:.2f}" for k in ("precision", "recall", "f1")), f"{row['support']:,}")
    console.print(per_type)
    if "confusion" in report:
        render_confusion(report["confusion"], console)
    from rnncli.cli.calibration_view import render_calibration

    render_calibration(report, console)


def render_confusion(confusion: dict[str, Any], console) -> None:
    from rich.table import Table

    from rnncli.metrics.tagging import ERROR_KINDS

    table = Table(title="entity errors (gold entities by outcome; spurious: predicted, overlapping no gold)",
                  title_justify="left")
    table.add_column("type")
    for kind in (*ERROR_KINDS, "spurious"):
        table.add_column(kind.replace("_", " "), justify="right")
    for name, row in confusion["by_type"].items():
        table.add_row(name, *(str(row[k]) for k in (*ERROR_KINDS, "spurious")))
    console.print(table)
    if confusion["type_errors"]:
        pairs = ", ".join(f"{pair} {count}" for pair, count in confusion["type_errors"].items())
        console.print(f"type errors (gold->predicted, same span): {pairs}")


def warn(report: dict[str, Any], data: list[str], quiet: bool) -> None:
    """Nothing in this task's report calls for a warning."""
