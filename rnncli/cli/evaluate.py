"""`rnncli eval`: one command for every task.

    rnncli eval CKPT DATA... [--json] [--fail-under METRIC=VALUE]   score a checkpoint
    rnncli eval --hyp HYP --ref REF [REF...] [--json]               score translation output files
    rnncli eval --pred PRED --gold GOLD [--json]                    score tag files

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
    scheme: Annotated[Optional[str], typer.Option("--scheme", help="Tag scheme of tagging data: iob1|iob2|bioes|none (default: detected).", show_default=False)] = None,
    quiet: QuietOpt = False,
) -> None:
    from rnncli import api
    from rnncli.cli.tasks import TASK_CLI
    from rnncli.errors import UsageError
    from rnncli.metrics import check_fail_under, parse_fail_under

    gates = parse_fail_under(fail_under or [])
    positional = ([str(checkpoint)] if checkpoint else []) + [str(p) for p in data or []]
    if hyp or ref:
        if not hyp or not (ref or positional):
            raise UsageError("--hyp needs --ref (and --ref needs --hyp)")
        if len(hyp) > 1:
            raise UsageError("give one --hyp: comparing several systems is not supported yet")
        task, report = "translate", api.evaluate_translations(hyp[0], [str(r) for r in ref or []] + positional)
    elif pred or gold is not None:
        if not pred or gold is None or positional:
            raise UsageError("--pred and --gold go together, without a checkpoint")
        if len(pred) > 1:
            raise UsageError("give one --pred: comparing several systems is not supported yet")
        task, report = "tag", api.evaluate_tags(pred[0], gold, scheme)
    else:
        if checkpoint is None:
            raise UsageError("give a checkpoint and data, or --hyp/--ref, or --pred/--gold")
        from rnncli.checkpoint import read_config

        task = read_config(checkpoint)["task"]
        if task not in TASK_CLI:
            raise UsageError(f"{checkpoint}: no evaluator for task {task!r}")
        data_paths = [str(p) for p in data or []]
        D(beam=beam, batch_size=batch_size, length_penalty=length_penalty, int8=int8, shortlist=shortlist)
        report = api.evaluate(checkpoint, data_paths, device, batch_size=batch_size, scheme=scheme, beam=beam,
                              length_penalty=length_penalty, int8=int8, shortlist=shortlist)
        TASK_CLI[task].warn(report, data_paths, quiet)
    if as_json:
        print_json(report)
    else:
        TASK_CLI[task].render_report(report, stdout_console())
    check_fail_under(report, gates)
