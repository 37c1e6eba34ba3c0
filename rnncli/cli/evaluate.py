"""`rnncli eval`: one command for every task.

    rnncli eval CKPT DATA... [--json] [--fail-under METRIC=VALUE]   score a checkpoint
    rnncli eval --hyp HYP --ref REF [REF...] [--json]               score translation output files
    rnncli eval --pred PRED --gold GOLD [--json]                    score tag files (CoNLL) or
                                                                     classify output against labelled data
    rnncli eval CKPT_A CKPT_B DATA...                                compare checkpoints (translate, tag, classify)
    rnncli eval FORECASTER SERIES [--horizon H] [--folds K]         backtest against baselines
    rnncli eval --pred FORECAST.csv --actual SERIES                 score a forecast file
    rnncli eval --hyp A --hyp B [--hyp C] --ref REF                 compare systems: each against
    rnncli eval --pred A --pred B --gold GOLD                       the first, paired bootstrap
    rnncli eval --pred A.csv --pred B.csv --actual SERIES           (or --paired-test ar)

The report comes from the Python API (rnncli.api.evaluate and friends); this command
renders it with the task's CLI module (cli/tasks.py) or prints it as JSON, and gates on
its top-level numbers with --fail-under.

Whether --gold holds tags or classification data is told from the file (tasks/classify_files.py:
its name, else its first line: JSON, fastText labels, or a header with text and label columns
mean classification; anything else is CoNLL); --task classify|tag says it outright.
"""

from __future__ import annotations

from contextlib import contextmanager
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
    pred: Annotated[Optional[list[Path]], typer.Option("--pred", help="Predicted tags (CoNLL), or `rnncli classify` output, to score against --gold.")] = None,
    gold: Annotated[Optional[Path], typer.Option("--gold", help="Gold tags (CoNLL), or labelled data as `train classify` reads it, for --pred.")] = None,
    task: Annotated[Optional[str], typer.Option("--task", help="--pred/--gold files: classify or tag (default: told from the --gold file).", show_default=False)] = None,
    text_field: Annotated[Optional[str], typer.Option("--text-field", help="Classification --gold: the text column/key (default: text or sentence).", show_default=False)] = None,
    label_field: Annotated[Optional[str], typer.Option("--label-field", help="Classification --gold: the label column/key (default: label).", show_default=False)] = None,
    beam: setting(D, "beam", "--beam") = D.beam,
    batch_size: setting(D, "batch_size", "--batch-size") = D.batch_size,
    length_penalty: setting(D, "length_penalty", "--length-penalty") = D.length_penalty,
    beam_stop: setting(D, "beam_stop", "--beam-stop") = D.beam_stop,
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
    resamples: Annotated[int, typer.Option("--resamples", min=1, help="Several --hyp/--pred: bootstrap resamples (randomization trials with --paired-test ar).")] = 1000,
    seed: Annotated[int, typer.Option("--seed", min=1, help="Several --hyp/--pred: seed of the resampling (a positive integer).")] = 12345,
    paired_test: Annotated[str, typer.Option("--paired-test", help="Several --hyp/--pred: bs (paired bootstrap) or ar (approximate randomization).")] = "bs",
    min_prob: Annotated[Optional[float], typer.Option("--min-prob", help="Classifiers: also report coverage (the share of predictions at or above this probability) and the accuracy of those.", show_default=False)] = None,
    plot: Annotated[bool, typer.Option("--plot", help="Classifiers and taggers: draw the reliability diagram in the terminal (stdout; stderr with --json). Needs rnncli[plot].")] = False,
    quiet: QuietOpt = False,
) -> None:
    from rnncli.errors import UsageError
    from rnncli.metrics import check_fail_under, parse_fail_under

    gates = parse_fail_under(fail_under or []) + parse_fail_under(fail_over or [], above=True)
    positional = ([str(checkpoint)] if checkpoint else []) + [str(p) for p in data or []]
    files = {"hyp": hyp, "ref": ref, "pred": pred, "gold": gold, "actual": actual}
    read_options = {"time_column": time_column, "target": target, "id_column": id_column,
                    "task": task, "text_field": text_field, "label_field": label_field}
    decode = D(beam=beam, batch_size=batch_size, length_penalty=length_penalty, beam_stop=beam_stop, int8=int8,
               shortlist=shortlist)
    resampling = {"resamples": resamples, "seed": seed, "method": paired_test}
    if gold is None and (task or text_field or label_field):   # would be silently ignored
        raise UsageError("--task, --text-field and --label-field go with --pred/--gold files")
    comparison = compare(positional, files, decode, device, scheme, baselines, read_options, resampling, gates)
    if comparison is not None:
        if as_json:
            print_json(comparison)
        else:
            render_comparison(comparison, stdout_console())
        return
    if any(v is not None for v in files.values()):
        if min_prob is not None:
            raise UsageError("--min-prob goes with a classifier checkpoint, not with output files")
        kind, report = score_output_files(files, positional, scheme, baselines, read_options)
    else:
        kind, report = score_checkpoint(checkpoint, [str(p) for p in data or []], device, decode, scheme,
                                        {"horizon": horizon, "folds": folds, "baselines": baselines}, quiet,
                                        min_prob)
    show_report(kind, report, as_json, plot)
    check_fail_under(report, gates)


def show_report(kind: str, report: dict, as_json: bool, plot: bool) -> None:
    """The report as JSON or the task's tables, and with --plot the reliability diagram."""
    from rnncli.cli.tasks import TASK_CLI

    if plot:   # drawn first: a report without calibration is exit 2 before anything is printed
        from rnncli.cli.calibration_view import reliability_plot

        picture = reliability_plot(report)
    if as_json:
        print_json(report)
    else:
        TASK_CLI[kind].render_report(report, stdout_console())
        if kind == "classify" and "pred" in report and report["abstained"]:   # a file's abstentions
            stdout_console().print(coverage_line(report))
    if plot:
        import sys

        (sys.stderr if as_json else sys.stdout).write(picture + "\n")


def compare(positional: list[str], files: dict, decode: D, device: str, scheme: str | None, baselines: bool,
            read_options: dict, resampling: dict, gates: list) -> dict | None:
    """The comparison report when eval was given several checkpoints or several --hyp/--pred
    files; None for a single system."""
    from rnncli import api
    from rnncli.errors import UsageError

    checkpoints = leading_checkpoints(positional)
    if len(checkpoints) > 1:
        if gates:
            raise UsageError("--fail-under/--fail-over gate one system; a comparison of several reports p-values")
        return api.compare_checkpoints(checkpoints, positional[len(checkpoints):], device, scheme,
                                       resampling["resamples"], resampling["seed"], resampling["method"],
                                       **decode.to_dict())
    if len(files["hyp"] or []) > 1 or len(files["pred"] or []) > 1:
        return compare_output_files(files, positional, scheme, baselines, read_options, resampling, gates)
    return None


def leading_checkpoints(positional: list[str]) -> list[str]:
    """The positional arguments that are checkpoint directories, from the first on:
    `eval CKPT_A CKPT_B DATA...` compares the checkpoints on DATA."""
    found = []
    for item in positional:
        if not (Path(item) / "config.json").is_file():
            break
        found.append(item)
    return found


def score_output_files(files: dict, positional: list[str], scheme: str | None, baselines: bool,
                       read_options: dict) -> tuple[str, dict]:
    """(task, report) of --hyp/--ref, --pred/--gold or --pred/--actual."""
    from rnncli import api
    from rnncli.errors import UsageError

    hyp, ref, pred, gold, actual = (files[k] for k in ("hyp", "ref", "pred", "gold", "actual"))
    if hyp or ref:
        if not hyp or not (ref or positional):
            raise UsageError("--hyp needs --ref (and --ref needs --hyp)")
        return "translate", api.evaluate_translations(hyp[0], [str(r) for r in ref or []] + positional)
    series_options, gold_options = split_read_options(read_options)
    if actual is not None:
        if not pred or gold is not None or positional or len(pred) > 1:
            raise UsageError("--pred FORECAST --actual SERIES go together, with one --pred and no checkpoint")
        return "forecast", api.evaluate_forecasts(pred[0], actual, baselines=baselines, **series_options)
    if not pred or gold is None or positional:
        raise UsageError("--pred and --gold go together, without a checkpoint")
    if gold_task(gold, pred[0], scheme, gold_options) == "classify":
        return "classify", api.evaluate_classifications(pred[0], gold, gold_options["text_field"],
                                                        gold_options["label_field"])
    with tag_hint(gold, gold_options):
        return "tag", api.evaluate_tags(pred[0], gold, scheme)


def split_read_options(read_options: dict) -> tuple[dict, dict]:
    """(the --actual series' reading options, the --gold file's: task, text_field, label_field)."""
    gold_keys = ("task", "text_field", "label_field")
    return ({k: v for k, v in read_options.items() if k not in gold_keys},
            {k: read_options.get(k) for k in gold_keys})


def gold_task(gold: Path, pred: Path, scheme: str | None, options: dict) -> str:
    """"classify" or "tag" for a --gold file, with the options that go with only one kind checked."""
    from rnncli.errors import UsageError
    from rnncli.tasks.classify_files import gold_task as detect

    task = detect(gold, options["task"], options["text_field"], options["label_field"], pred)
    if task == "classify" and scheme is not None:
        raise UsageError(f"--scheme is for tag files, and {gold} is classification data (--task tag if it is CoNLL)")
    if task == "tag" and (options["text_field"] or options["label_field"]):
        raise UsageError(f"--text-field/--label-field name columns of classification data, and {gold} reads as "
                         "CoNLL tags (--task classify if it is classification data)")
    return task


@contextmanager
def tag_hint(gold: Path, options: dict):
    """A CoNLL error on a gold file that was taken for tags but starts like a labelled table
    says how to read it as classification data instead."""
    from rnncli.errors import DataError
    from rnncli.tasks.classify_files import looks_labelled

    try:
        yield
    except DataError as exc:
        if options["task"] is None and looks_labelled(gold):
            raise DataError(f"{exc} (read as CoNLL tags; for classification data with another label column "
                            "give --label-field NAME, or --task classify)") from None
        raise


def coverage_line(report: dict) -> str:
    """The abstentions of a classification output file (`?` or null: counted wrong)."""
    from rnncli.cli.classify import percent

    accuracy = report["covered_accuracy"]
    shown = "n/a" if accuracy is None else percent(accuracy)
    return (f"coverage {percent(report['coverage'])}% ({report['covered']:,} of {report['examples']:,} "
            f"labelled, {report['abstained']:,} abstained and counted wrong), accuracy on the labelled {shown}")


def compare_output_files(files: dict, positional: list[str], scheme: str | None, baselines: bool,
                         read_options: dict, test: dict, gates: list) -> dict:
    """The comparison report of several --hyp (with --ref), --pred (with --gold) or --pred
    (with --actual) files: each system scored, each tested against the first."""
    from rnncli import api
    from rnncli.errors import UsageError

    if gates:
        raise UsageError("--fail-under/--fail-over gate one system; a comparison of several reports p-values")
    if test["method"] not in ("bs", "ar"):
        raise UsageError(f"--paired-test {test['method']!r} is not one of: bs, ar")
    hyp, ref, pred, gold, actual = (files[k] for k in ("hyp", "ref", "pred", "gold", "actual"))
    if hyp:
        if pred or gold is not None or actual is not None:
            raise UsageError("compare translations (--hyp ... --ref) or tags/forecasts (--pred ...), not both")
        if not (ref or positional):
            raise UsageError("--hyp needs --ref")
        return api.compare_translations(hyp, [str(r) for r in ref or []] + positional, **test)
    if ref or positional:
        raise UsageError("--ref goes with --hyp; several --pred files compare without a checkpoint")
    series_options, gold_options = split_read_options(read_options)
    if actual is not None:
        if gold is not None:
            raise UsageError("--pred files go with --gold (tags, classification) or --actual (forecasts), not both")
        return api.compare_forecasts(pred, actual, baselines=baselines, **test, **series_options)
    if gold is None:
        raise UsageError("several --pred files need --gold (tags or classification data) or --actual (forecasts)")
    if gold_task(gold, pred[0], scheme, gold_options) == "classify":
        return api.compare_classifications(pred, gold, gold_options["text_field"], gold_options["label_field"],
                                           **test)
    with tag_hint(gold, gold_options):
        return api.compare_tags(pred, gold, scheme, **test)


def render_comparison(report: dict, console) -> None:
    """One table: a row per system and metric, the difference against the baseline with its
    95% interval and p-value, the winner of each metric marked."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{report['task']}: each system against {escape(report['baseline'])}", title_justify="left",
                  box=box.SIMPLE_HEAD)
    longest = max(len(system["name"]) for system in report["systems"])
    table.add_column("system", overflow="fold", min_width=min(longest, 12))
    for name in ("metric", "score", "diff", "95% CI", "p", "verdict"):
        table.add_column(name, justify="left" if name in ("metric", "verdict") else "right",
                         no_wrap=name == "95% CI", min_width=8 if name == "verdict" else None)
    comparisons = report["comparisons"]
    metrics = list(dict.fromkeys(c["metric"] for c in comparisons))
    by_key = {(c["system"], c["metric"]): c for c in comparisons}
    for index, system in enumerate(report["systems"]):
        name = system["name"]
        for metric in metrics:
            winner = report["winner"][metric]
            mark = (" [bold]★[/]" if winner["significant"] else " ★ (n.s.)") if winner["system"] == name else ""
            row = by_key.get((name, metric))
            if row is None:   # the baseline
                score = next(c["baseline_score"] for c in comparisons if c["metric"] == metric)
                cells = [number(score), "", "", "", "baseline"]
            else:
                cells = [number(row["system_score"]), number(row["difference"], "+"),
                         f"[{number(row['ci'][0], '+')}, {number(row['ci'][1], '+')}]", f"{row['p_value']:.4f}",
                         {"same": "n.s."}.get(row["verdict"], row["verdict"])]
            table.add_row(escape(name) if metric == metrics[0] else "", metric + mark, *cells,
                          end_section=metric == metrics[-1] and index < len(report["systems"]) - 1)
    signatures = dict.fromkeys(c["signature"] for c in comparisons)
    table.caption = (f"{report['method']}, {report['resamples']} resamples, seed {report['seed']}, "
                     f"alpha {report['alpha']}\n★ best score; n.s. not significant\n" + "\n".join(signatures))
    console.print(table)


def number(value: float, sign: str = "") -> str:
    """Scores on a 0-100 scale with 2 decimals, fractions and errors with 3 (the JSON has all)."""
    return f"{value:{sign}.2f}" if abs(value) >= 10 else f"{value:{sign}.3f}"


def score_checkpoint(checkpoint: Path | None, data: list[str], device: str, decode: D, scheme: str | None,
                     forecast: dict, quiet: bool, min_prob: float | None = None) -> tuple[str, dict]:
    """(task, report) of a checkpoint, or of an `rnncli export` artifact, on data."""
    from rnncli import api
    from rnncli.checkpoint import read_config
    from rnncli.cli.tasks import TASK_CLI
    from rnncli.errors import UsageError
    from rnncli.export.artifact import is_artifact

    if checkpoint is None:
        raise UsageError("give a checkpoint and data, or --hyp/--ref, --pred/--gold or --pred/--actual")
    if is_artifact(checkpoint):
        if min_prob is not None:
            raise UsageError("--min-prob: evaluate the checkpoint, not the exported artifact")
        from rnncli.export.evaluate import evaluate_artifact

        return evaluate_artifact(checkpoint, data, decode, device, batch_size=decode.batch_size, scheme=scheme,
                                 **forecast)
    task = read_config(checkpoint)["task"]
    if task not in TASK_CLI:
        raise UsageError(f"{checkpoint}: no evaluator for task {task!r}")
    if min_prob is not None and task != "classify":
        raise UsageError(f"--min-prob is for classifiers, and {checkpoint} is not one (task {task})")
    report = api.evaluate(checkpoint, data, device, batch_size=decode.batch_size, scheme=scheme, beam=decode.beam,
                          length_penalty=decode.length_penalty, int8=decode.int8, shortlist=decode.shortlist,
                          **(forecast if task == "forecast" else {}),
                          **({"min_prob": min_prob} if min_prob is not None else {}))
    TASK_CLI[task].warn(report, data, quiet)
    return task, report
