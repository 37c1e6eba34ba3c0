"""`rnncli forecast`, and how `rnncli eval` shows a forecaster's backtest."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from rnncli.cli.common import CkptArg, DeviceOpt, OutputOpt, QuietOpt, message


def forecast_cli(
    checkpoint: CkptArg,
    input: Annotated[str, typer.Argument(help="Series file (CSV, TSV or JSONL with a header, as in training), "
                                              "or - for stdin.")] = "-",
    horizon: Annotated[Optional[int], typer.Option("--horizon", help="Steps to forecast (default: the "
                                                   "model's horizon; at most that).", show_default=False)] = None,
    output: OutputOpt = None,
    output_format: Annotated[str, typer.Option("--output-format", help="csv or jsonl.")] = "csv",
    plot: Annotated[bool, typer.Option("--plot", help="Draw history, forecast and interval in the terminal "
                                                      "(stderr), one plot per series.")] = False,
    plot_out: Annotated[Optional[Path], typer.Option("--plot-out", help="Write the same as a PNG image.",
                                                     show_default=False)] = None,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Continue every series of INPUT from its end: future timestamps written as the input
    writes them, the point forecast (the median) and a column per quantile."""
    from rnncli.api import load
    from rnncli.checkpoint import read_config
    from rnncli.cli.streams import output_stream
    from rnncli.errors import UsageError
    from rnncli.tasks.forecast_output import check_output_format, forecast_lines

    check_output_format(output_format)
    if plot_out is not None and plot_out.suffix.lower() != ".png":
        raise UsageError(f"--plot-out {plot_out}: give a .png file name")
    if horizon is not None and horizon < 1:
        raise UsageError(f"--horizon {horizon} must be positive")
    if input == "-" and sys.stdin.isatty():
        raise UsageError("give a series file, or pipe one in with -")
    read_config(checkpoint, "forecast")
    forecaster = load(checkpoint, device)
    forecasts = forecaster.forecast(input, horizon)
    series_set = forecaster.last_read
    if series_set.filled:
        message(f"{series_set.filled} missing value(s) filled by linear interpolation", quiet)
    with output_stream(output) as stream:
        for line in forecast_lines(forecasts, output_format):
            stream.write(line + "\n")
    if plot or plot_out:
        draw(series_set, forecasts, forecaster.period, plot, plot_out, quiet)


def draw(series_set, forecasts, period: int, plot: bool, plot_out: Path | None, quiet: bool) -> None:
    from rnncli.cli.forecast_plot import image_plot, terminal_plot

    histories = [(s.values, s.timestamps) for s in series_set.series]
    if plot and not quiet:
        width = 100
        try:
            import shutil

            width = max(40, min(140, shutil.get_terminal_size((100, 24)).columns - 2))
        except OSError:
            pass
        for (values, stamps), forecast in zip(histories, forecasts):
            print(terminal_plot(values, stamps, forecast, period, width=width, color=sys.stderr.isatty()),
                  file=sys.stderr)
    if plot_out is not None:
        image_plot(plot_out, histories, forecasts, period)
        message(f"wrote {plot_out}", quiet)


# ---- eval --------------------------------------------------------------------------------
METHOD_NAMES = {"rnncli": "rnncli", "naive": "naive", "seasonal_naive": "seasonal naive", "ets": "ETS"}
COLUMNS = ("mase", "smape", "mae", "rmse", "scaled_quantile_loss", "coverage_80")


def warn(report: dict[str, Any], data: list[str], quiet: bool) -> None:
    for note in report.get("notes", []):
        message(note, quiet)


def render_report(report: dict[str, Any], console) -> None:
    """Overall figures per method side by side, then MASE per series."""
    from rich.table import Table

    methods = {"rnncli": report, **report.get("baselines", {})}
    columns = [c for c in COLUMNS if c in report]
    title = (f"{report.get('file', '')}: {report['series']} series, {report.get('folds', 1)} fold(s) of "
             f"{report['horizon']} steps" if "folds" in report else f"{report['series']} series")
    table = Table(title=title, title_justify="left")
    table.add_column("method")
    for column in columns:
        table.add_column(column.replace("scaled_quantile_loss", "scaled QL"), justify="right")
    for method, figures in methods.items():
        table.add_row(METHOD_NAMES.get(method, method), *(number(figures.get(c)) for c in columns))
    console.print(table)
    if "skill" in report:
        console.print(f"skill: MASE(rnncli) / MASE(seasonal naive) = {report['skill']:.3f} "
                      f"({'better' if report['skill'] < 1 else 'not better'} than seasonal naive)")
    per_series = report.get("per_series", {})
    if len(per_series) > 1:
        series_table = Table(title="MASE per series", title_justify="left")
        series_table.add_column("series")
        names = list(next(iter(per_series.values())).keys()) if "rnncli" in next(iter(per_series.values())) else []
        for method in names or ["rnncli"]:
            series_table.add_column(METHOD_NAMES.get(method, method), justify="right")
        for name, scores in per_series.items():
            row = [number(scores[m].get("mase")) for m in names] if names else [number(scores.get("mase"))]
            series_table.add_row(name, *row)
        console.print(series_table)


def number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.3f}"
