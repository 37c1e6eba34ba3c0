"""`rnncli data check`: inspect training data before training on it.

    rnncli data check --task classify --train train.tsv --valid dev.tsv
    rnncli data check --task translate train.en train.de val.en val.de --json
    rnncli data check --task tag eng.train eng.testa --max-len 100

Files are given with the matching `train` command's options (--train, --valid,
--train-src ...) or as arguments, in the order of those options. Results go to stdout
(a rich table, or JSON with --json); the exit code is 0 when clean, 1 with warnings
only, 2 with errors (or bad usage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rnncli.cli.common import JsonOpt, print_json, stdout_console
from rnncli.cli.examples import EXAMPLES

data_app = typer.Typer(no_args_is_help=True, help="Inspect data files.")

Opt = Optional[str]


@data_app.command("check", epilog=EXAMPLES.get("data check"))
def check_cli(
    files: Annotated[Optional[list[str]], typer.Argument(help="Data files, in the order of the task's inputs (lm, classify, tag: TRAIN [VALID]; translate: TRAIN_SRC TRAIN_TGT [VALID_SRC VALID_TGT]; forecast: TRAIN). - is stdin.", show_default=False)] = None,
    task: Annotated[str, typer.Option("--task", help="lm|classify|tag|translate|forecast.")] = ...,
    train: Annotated[Opt, typer.Option("--train", help="Training file.", show_default=False)] = None,
    valid: Annotated[Opt, typer.Option("--valid", help="Validation file.", show_default=False)] = None,
    train_src: Annotated[Opt, typer.Option("--train-src", help="translate: training source.", show_default=False)] = None,
    train_tgt: Annotated[Opt, typer.Option("--train-tgt", help="translate: training target.", show_default=False)] = None,
    valid_src: Annotated[Opt, typer.Option("--valid-src", help="translate: validation source.", show_default=False)] = None,
    valid_tgt: Annotated[Opt, typer.Option("--valid-tgt", help="translate: validation target.", show_default=False)] = None,
    max_len: Annotated[Optional[int], typer.Option("--max-len", min=1, help="Length limit to count records over (default: the task's training limit: classify --max-length, translate --max-len).", show_default=False)] = None,
    data_format: Annotated[Opt, typer.Option("--format", help="classify: tsv|csv|jsonl|fasttext; forecast: csv|tsv|jsonl (default: from the extension).", show_default=False)] = None,
    text_field: Annotated[Opt, typer.Option("--text-field", help="classify: text column/key.", show_default=False)] = None,
    label_field: Annotated[Opt, typer.Option("--label-field", help="classify: label column/key.", show_default=False)] = None,
    allow_unseen_labels: Annotated[bool, typer.Option("--allow-unseen-labels", help="classify: validation labels unseen in training are a warning, not an error.")] = False,
    word_column: Annotated[Optional[int], typer.Option("--word-column", help="tag: column of the words, from 1 (default: as train tag).", show_default=False)] = None,
    tag_column: Annotated[Optional[int], typer.Option("--tag-column", help="tag: column of the tags, from 1; -1 is the last (default: as train tag).", show_default=False)] = None,
    sep: Annotated[Opt, typer.Option("--sep", help="tag: column separator, space or tab.", show_default=False)] = None,
    scheme: Annotated[Opt, typer.Option("--scheme", help="tag: iob1|iob2|bioes|none (default: detected).", show_default=False)] = None,
    time_column: Annotated[Opt, typer.Option("--time-column", help="forecast: the timestamp column.", show_default=False)] = None,
    target: Annotated[Optional[list[str]], typer.Option("--target", help="forecast: column(s) to forecast, repeatable or comma-separated.", show_default=False)] = None,
    id_column: Annotated[Opt, typer.Option("--id-column", help="forecast: the series id column (long layout).", show_default=False)] = None,
    freq: Annotated[Opt, typer.Option("--freq", help="forecast: step, Y, Q, M, W, D, B, 1h, 30min ... (default: inferred).", show_default=False)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check data files for a task: encoding, line endings, NUL bytes, empty lines,
    alignment, lengths, labels, tag schemes, duplicates, train/validation overlap, and
    time-series frequency, gaps and missing values. Exit 0 clean, 1 warnings, 2 errors."""
    from rnncli.datacheck import CheckOptions, check

    given = {"train": train, "valid": valid, "train_src": train_src, "train_tgt": train_tgt,
             "valid_src": valid_src, "valid_tgt": valid_tgt}
    inputs = task_files(task, given, files or [])
    targets = tuple(t.strip() for value in target or [] for t in value.split(",") if t.strip()) or None
    options = CheckOptions(max_len=max_len, format=data_format, text_field=text_field, label_field=label_field,
                           allow_unseen_labels=allow_unseen_labels, word_column=word_column, tag_column=tag_column,
                           sep=sep, scheme=scheme, time_column=time_column, target=targets, id_column=id_column,
                           freq=freq)
    report = check(task, inputs, options)
    if as_json:
        print_json(report.to_dict())
    else:
        render(report, stdout_console())
    raise typer.Exit(report.exit_code)


def task_files(task: str, given: dict[str, str | None], positional: list[str]) -> dict[str, str | None]:
    """The task's inputs (names from its TaskSpec) from options and positional files."""
    from rnncli.errors import UsageError
    from rnncli.tasks import spec

    names = [i.name for i in spec(task).inputs]
    for name, path in given.items():
        if path is not None and name not in names:
            allowed = ", ".join("--" + n.replace("_", "-") for n in names)
            raise UsageError(f"--{name.replace('_', '-')} is not an input of {task} (its inputs: {allowed})")
    chosen = {name: given.get(name) for name in names}
    free = [name for name in names if chosen[name] is None]
    if len(positional) > len(free):
        raise UsageError(f"{len(positional)} file argument(s) but {task} takes at most {len(free)} more "
                         f"({', '.join(free) or 'none'})")
    chosen.update(zip(free, positional))
    first = names[0] if task != "translate" else "train_src"
    if chosen[first] is None:
        raise UsageError(f"give the {task} training data: --{first.replace('_', '-')} FILE (or as an argument)")
    if task == "translate" and chosen.get("train_tgt") is None:
        raise UsageError("give the training target too: --train-tgt FILE")
    for path in chosen.values():
        if path is not None and path != "-" and Path(path).is_dir():
            raise UsageError(f"{path}: is a directory, expected a data file")
    return chosen


LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "note": "dim"}


def render(report, console) -> None:
    from rich.table import Table

    files = Table(title=f"data check: {report.task}", title_justify="left")
    for column in ("role", "file", "lines", "records", "encoding", "endings", "empty", "length p50/p95/max"):
        files.add_column(column, justify="left" if column in ("role", "file", "encoding", "endings") else "right")
    for entry in report.files:
        lengths = entry.get("lengths") or {}
        shape = (f"{lengths['p50']}/{lengths['p95']}/{lengths['max']} {lengths['unit']}"
                 if lengths.get("count") else "-")
        files.add_row(entry["role"], entry["path"], f"{entry['lines']:,}", f"{entry.get('records', 0):,}",
                      entry["encoding"], entry["line_endings"], f"{entry['empty_lines']:,}", shape)
    console.print(files)
    findings = Table(title="findings", title_justify="left", show_lines=False)
    for column in ("level", "where", "what", "count"):
        findings.add_column(column, justify="right" if column == "count" else "left", overflow="fold")
    for finding in report.findings:
        places = ", ".join(f"{e['line']}" for e in finding.examples[1:]) if len(finding.examples) > 1 else ""
        what = finding.message + (f" (also lines {places})" if places else "")
        findings.add_row(f"[{LEVEL_STYLE[finding.level]}]{finding.level}[/]", finding.where, escape(what),
                         f"{finding.count:,}")
    if report.findings:
        console.print(findings)
    counts = report.counts()
    console.print(f"{report.status}: {counts['error']} error(s), {counts['warning']} warning(s), "
                  f"{counts['note']} note(s)", highlight=False)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)
