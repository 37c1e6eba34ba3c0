"""`rnncli eval`: one command for every task.

    rnncli eval CKPT DATA... [--json] [--fail-under METRIC=VALUE]   score a checkpoint
    rnncli eval --hyp HYP --ref REF [REF...] [--json]               score translation output files
    rnncli eval --pred PRED --gold GOLD [--json]                    score tag files

Each task's cli module provides `evaluate_checkpoint(ckpt, data, opts) -> report dict` and
`render_report(report, console)`; the report's top-level numbers are what `--json` prints
and what `--fail-under` gates on.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnncli.cli.common import JsonOpt, QuietOpt, print_json, stdout_console

# task name (config.json "task") -> the cli module that evaluates it. A literal list, by hand.
EVALUATORS = {
    "lm": "rnncli.cli.lm",
    "classify": "rnncli.cli.classify",
    "tag": "rnncli.cli.tag",
    "translate": "rnncli.cli.translate",
}


@dataclass
class EvalOptions:
    """Options any evaluator may read; each task uses the ones that apply to it."""

    as_json: bool = False
    quiet: bool = False
    device: str = "auto"
    batch_size: int = 64
    beam: int = 5
    length_penalty: float = 0.6      # translation: GNMT alpha for beam search
    int8: bool = False               # translation: int8 output layer (CPU)
    shortlist: bool = False          # translation: vocabulary shortlist
    fail_under: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


def eval_cli(
    checkpoint: Annotated[Optional[Path], typer.Argument(help="Checkpoint directory.", show_default=False)] = None,
    data: Annotated[Optional[list[Path]], typer.Argument(help="Data to score (lm/classify/tag: one file; translate: SRC REF).", show_default=False)] = None,
    as_json: JsonOpt = False,
    fail_under: Annotated[Optional[list[str]], typer.Option("--fail-under", help="METRIC=VALUE: exit 3 if METRIC is worse than VALUE. Repeatable.")] = None,
    hyp: Annotated[Optional[Path], typer.Option("--hyp", help="Hypothesis file (translation output) to score against --ref.")] = None,
    ref: Annotated[Optional[list[Path]], typer.Option("--ref", help="Reference file(s) for --hyp; more may follow as arguments.")] = None,
    pred: Annotated[Optional[Path], typer.Option("--pred", help="Predicted tags (CoNLL) to score against --gold.")] = None,
    gold: Annotated[Optional[Path], typer.Option("--gold", help="Gold tags (CoNLL) for --pred.")] = None,
    beam: Annotated[int, typer.Option("--beam", min=1, help="Beam size (translation).")] = 5,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Sentences per batch.")] = 64,
    length_penalty: Annotated[float, typer.Option("--length-penalty", min=0.0, help="GNMT length penalty alpha (translation beam search).")] = 0.6,
    device: Annotated[str, typer.Option("--device", help="auto|cpu|cuda|mps.")] = "auto",
    int8: Annotated[bool, typer.Option("--int8", help="Translation: int8 output layer for CPU beam search.")] = False,
    shortlist: Annotated[bool, typer.Option("--shortlist", help="Translation: score only the checkpoint's vocabulary shortlist.")] = False,
    scheme: Annotated[Optional[str], typer.Option("--scheme", help="Tag scheme of tagging data: iob1|iob2|bioes|none (default: detected).", show_default=False)] = None,
    quiet: QuietOpt = False,
) -> None:
    from rnncli.errors import UsageError
    from rnncli.metrics import check_fail_under, parse_fail_under

    gates = parse_fail_under(fail_under or [])
    opts = EvalOptions(as_json=as_json, quiet=quiet, device=device, batch_size=batch_size, beam=beam,
                       length_penalty=length_penalty, int8=int8, shortlist=shortlist, fail_under=fail_under or [],
                       extra={"scheme": scheme} if scheme else {})
    positional = ([str(checkpoint)] if checkpoint else []) + [str(p) for p in data or []]
    if hyp is not None or ref:
        if hyp is None or not (ref or positional):
            raise UsageError("--hyp needs --ref (and --ref needs --hyp)")
        module = importlib.import_module(EVALUATORS["translate"])
        report = module.evaluate_files(str(hyp), [str(r) for r in ref or []] + positional, opts)
    elif pred is not None or gold is not None:
        if pred is None or gold is None or positional:
            raise UsageError("--pred and --gold go together, without a checkpoint")
        module = importlib.import_module(EVALUATORS["tag"])
        report = module.evaluate_files(str(pred), str(gold), opts)
    else:
        if checkpoint is None:
            raise UsageError("give a checkpoint and data, or --hyp/--ref, or --pred/--gold")
        from rnncli.checkpoint import read_config

        task = read_config(checkpoint)["task"]
        if task not in EVALUATORS:
            raise UsageError(f"{checkpoint}: no evaluator for task {task!r}")
        module = importlib.import_module(EVALUATORS[task])
        report = module.evaluate_checkpoint(checkpoint, [str(p) for p in data or []], opts)
    if as_json:
        print_json(report)
    else:
        module.render_report(report, stdout_console())
    check_fail_under(report, gates)
