"""`rnncli eval`: one command for every task.

    rnncli eval CKPT DATA... [--json] [--fail-under METRIC=VALUE]   score a checkpoint
    rnncli eval --hyp HYP --ref REF [REF...] [--json]               score translation output files
    rnncli eval --pred PRED --gold GOLD [--json]                    score tag files
    rnncli eval FORECASTER SERIES [--horizon H] [--folds K]         backtest against baselines
    rnncli eval --pred FORECAST.csv --actual SERIES                 score a forecast file

The report comes from the Python API (rnncli.api.evaluate and friends); this command
renders it with the task's CLI module (cli/tasks.py) or prints it as JSON, and gates on
its top-level numbers with --fail-under.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from rnncli.cli.common import JsonOpt, QuietOpt, print_json, stdout_console
from rnncli.cli.options import setting
from rnncli.config import DecodeSettings as D


def eval_cli(
    checkpoint: Annotated[Optional[Path], typer.Argument(help="Checkpoint directory.", show_default=False)] = None,
    data: Annotated[Optional[list[Path]], typer.Argument(help="Data to score (lm/classify/tag: one file; translate: SRC REF).", show_default=False)] = None,
    as_json: JsonOpt = False,
    fail_under: Annotated[Optional[list[str]], typer.Option("--fail-under", help="METRIC=VALUE: exit 3 if METRIC is worse than VALUE. Repeatable.")] = None,
    hyp: Annotated[Optional[list[Path]], typer.Option("--hyp", help="Hypothesis file (translation output) to score against --ref.")] = None,
    ref: Annotated[Optional[list[Path]], typer.Option("--ref", help="Reference file(s) for --hyp; more may follow as arguments.")] = None,
    pred: Annotated[Optional[list[Path]], typer.Option("--pred", help="Predicted tags (CoNLL) to score against --gold.")] = None,
    gold: Annotated[Optional[Path], typer.Option("--gold", help="Gold tags (CoNLL) for --pred.")] = None,
    beam: setting(D, "beam", "--beam") = D.beam,
    batch_size: setting(D, "batch_size", "--batch-size") = D.batch_size,
    length_penalty: setting(D, "length_penalty", "--length-penalty") = D.length_penalty,
    device: Annotated[str, typer.Option("--device", help="auto|cpu|cuda|mps.")] = "auto",
    int8: setting(D, "int8", "--int8") = D.int8,
    shortlist: setting(D, "shortlist", "--shortlist") = D.shortlist,
    actual: Annotated[Optional[Path], typer.Option("--actual", help="The series a forecast file (--pred) forecasts.", show_default=False)] = None,
    horizon: Annotated[Optional[int], typer.Option("--horizon", help="Forecast backtest: steps per fold (default: the model's horizon).", show_default=False)] = None,
    folds: Annotated[int, typer.Option("--folds", min=1, help="Forecast backtest: rolling origins, the last K windows of each series.")] = 1,
    baselines: Annotated[bool, typer.Option("--baselines/--no-baselines", help="Forecasts: score naive, seasonal naive and ETS on the same windows.")] = True,
    time_column: Annotated[Optional[str], typer.Option("--time-column", help="--actual: the time column (default: as the reader finds it).", show_default=False)] = None,
    target: Annotated[Optional[str], typer.Option("--target", help="--actual: value column(s), comma-separated.", show_default=False)] = None,
    id_column: Annotated[Optional[str], typer.Option("--id-column", help="--actual: the series column of a long layout.", show_default=False)] = None,
    fail_over: Annotated[Optional[list[str]], typer.Option("--fail-over", help="METRIC=VALUE: exit 3 if METRIC is above VALUE (for errors such as mase). Repeatable.")] = None,
    scheme: Annotated[Optional[str], typer.Option("--scheme", help="Tag scheme of tagging data: iob1|iob2|bioes|none (default: detected).", show_default=False)] = None,
    quiet: QuietOpt = False,
) -> None:
    from rnncli.cli.tasks import TASK_CLI
    from rnncli.metrics import check_fail_under, parse_fail_under

    gates = parse_fail_under(fail_under or []) + parse_fail_under(fail_over or [], above=True)
    positional = ([str(checkpoint)] if checkpoint else []) + [str(p) for p in data or []]
    files = {"hyp": hyp, "ref": ref, "pred": pred, "gold": gold, "actual": actual}
    if any(v is not None for v in files.values()):
        task, report = score_output_files(files, positional, scheme, baselines,
                                          {"time_column": time_column, "target": target, "id_column": id_column})
    else:
        decode = D(beam=beam, batch_size=batch_size, length_penalty=length_penalty, int8=int8, shortlist=shortlist)
        task, report = score_checkpoint(checkpoint, [str(p) for p in data or []], device, decode, scheme,
                                        {"horizon": horizon, "folds": folds, "baselines": baselines}, quiet)
    if as_json:
        print_json(report)
    else:
        TASK_CLI[task].render_report(report, stdout_console())
    check_fail_under(report, gates)


def score_output_files(files: dict, positional: list[str], scheme: str | None, baselines: bool,
                       read_options: dict) -> tuple[str, dict]:
    """(task, report) of --hyp/--ref, --pred/--gold or --pred/--actual."""
    from rnncli import api
    from rnncli.errors import UsageError

    hyp, ref, pred, gold, actual = (files[k] for k in ("hyp", "ref", "pred", "gold", "actual"))
    if hyp or ref:
        if not hyp or not (ref or positional):
            raise UsageError("--hyp needs --ref (and --ref needs --hyp)")
        if len(hyp) > 1:
            raise UsageError("give one --hyp: comparing several systems is not supported yet")
        return "translate", api.evaluate_translations(hyp[0], [str(r) for r in ref or []] + positional)
    if actual is not None:
        if not pred or gold is not None or positional or len(pred) > 1:
            raise UsageError("--pred FORECAST --actual SERIES go together, with one --pred and no checkpoint")
        return "forecast", api.evaluate_forecasts(pred[0], actual, baselines=baselines, **read_options)
    if not pred or gold is None or positional:
        raise UsageError("--pred and --gold go together, without a checkpoint")
    if len(pred) > 1:
        raise UsageError("give one --pred: comparing several systems is not supported yet")
    return "tag", api.evaluate_tags(pred[0], gold, scheme)


def score_checkpoint(checkpoint: Path | None, data: list[str], device: str, decode: D, scheme: str | None,
                     forecast: dict, quiet: bool) -> tuple[str, dict]:
    """(task, report) of a checkpoint, or of an `rnncli export` artifact, on data."""
    from rnncli import api
    from rnncli.checkpoint import read_config
    from rnncli.cli.tasks import TASK_CLI
    from rnncli.errors import UsageError
    from rnncli.export.artifact import is_artifact

    if checkpoint is None:
        raise UsageError("give a checkpoint and data, or --hyp/--ref, --pred/--gold or --pred/--actual")
    if is_artifact(checkpoint):
        from rnncli.export.evaluate import evaluate_artifact

        return evaluate_artifact(checkpoint, data, batch_size=decode.batch_size, scheme=scheme)
    task = read_config(checkpoint)["task"]
    if task not in TASK_CLI:
        raise UsageError(f"{checkpoint}: no evaluator for task {task!r}")
    report = api.evaluate(checkpoint, data, device, batch_size=decode.batch_size, scheme=scheme, beam=decode.beam,
                          length_penalty=decode.length_penalty, int8=decode.int8, shortlist=decode.shortlist,
                          **(forecast if task == "forecast" else {}))
    TASK_CLI[task].warn(report, data, quiet)
    return task, report
