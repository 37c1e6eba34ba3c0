"""`rnncli info CKPT`: what a checkpoint is, how it was trained, on what data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from rnncli.cli.common import CkptArg, JsonOpt, message, print_json, stdout_console

CurvesOpt = Annotated[bool, typer.Option(
    "--curves", help="Draw the training loss and the validation metric against steps (on stdout; "
                     "with --json: their points in the report). Needs rnncli[plot].")]
PlotOutOpt = Annotated[Optional[Path], typer.Option(
    "--plot-out", help="Write the training curves as a PNG image. Needs rnncli[plot].", show_default=False)]


def info_cli(checkpoint: CkptArg, as_json: JsonOpt = False, curves: CurvesOpt = False,
             plot_out: PlotOutOpt = None) -> None:
    from rnncli.api import info
    from rnncli.errors import UsageError
    from rnncli.export.artifact import describe_artifact, is_artifact

    artifact = is_artifact(checkpoint)
    if artifact and (curves or plot_out):
        raise UsageError(f"{checkpoint}: an exported artifact keeps no training records; give --curves "
                         "and --plot-out the checkpoint directory it was exported from")
    report = describe_artifact(checkpoint) if artifact else info(checkpoint)
    if curves or plot_out:
        report = draw_curves(checkpoint, report, curves and not as_json, plot_out, as_json)
    if as_json:
        print_json(report)
    elif curves:
        return
    elif report.get("artifact"):
        stdout_console().print("\n".join(f"{k}: {flatten(v)}" for k, v in report.items() if k != "artifact"),
                               markup=False)
    else:
        render(report)


def draw_curves(checkpoint: Path, report: dict[str, Any], in_terminal: bool, plot_out: Path | None,
                as_json: bool) -> dict[str, Any]:
    """Draw what was asked; with --json the report gains the points ("curves")."""
    from rnncli.cli.curves import curve_data, image_curves, terminal_curves

    data = curve_data(checkpoint, report.get("best"))
    if in_terminal:
        text = terminal_curves(data, color=sys.stdout.isatty())   # checks plotext before any output
    if plot_out is not None:
        image_curves(plot_out, data)
        message(f"wrote the training curves to {plot_out}")
    if in_terminal:
        sys.stdout.write(text)
        sys.stdout.flush()
    return {**report, "curves": data} if as_json else report


def render(report: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"checkpoint {report['path']}", title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    table.add_row("task", report["task"])
    table.add_row("model", ", ".join(f"{k}={v}" for k, v in report["model"].items()))
    params = report["parameters"]
    table.add_row("parameters", f"{params:,}" if params is not None else "(no weights yet)")
    if report["tokenizer"]:
        table.add_row("tokenizer", flatten(report["tokenizer"]))
    if report.get("series"):
        s = report["series"]
        names = ", ".join(map(str, s["names"][:10])) + (" ..." if len(s["names"]) > 10 else "")
        table.add_row("series", f"{len(s['names'])} ({s['layout']} layout, {s['freq_name']}): {names}; "
                                f"horizon {s['horizon']}, context {s['context']}")
    if report.get("labels"):
        table.add_row("labels", f"{len(report['labels'])}: " + ", ".join(map(str, report["labels"][:20])))
    for name, info in report["data"].items():
        if isinstance(info, dict) and "sha256" in info:
            table.add_row(f"data: {name}", f"{info['path']} ({info['size']:,} bytes, sha256 {info['sha256'][:16]}…)")
    for section, values in report["settings"].items():
        if values:
            table.add_row(f"settings: {section}", ", ".join(f"{k}={v}" for k, v in values.items()))
    table.add_row("steps trained", f"{report['steps']:,}")
    best = report["best"]
    table.add_row("best validation", f"{best['metric']} {best['value']:.4f} at step {best['step']}" if best else "n/a")
    trained, running = report["trained_with"], report["running"]
    table.add_row("versions", f"trained with rnncli {trained['rnncli']} / torch {trained['torch']}; "
                              f"running rnncli {running['rnncli']} / torch {running['torch']}")
    stdout_console().print(table)


def flatten(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={flatten(v)}" if not isinstance(v, dict) else f"{k}: ({flatten(v)})"
                         for k, v in value.items())
    return str(value)
