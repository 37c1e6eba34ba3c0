"""Pictures of a forecast: the tail of the history, the median and the outer interval band;
in the terminal (plotext, on stderr) or as a PNG image (matplotlib). Both come with
`rnncli[plot]` (and `rnncli[forecast]`); without them the command says what to install."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from rnncli.errors import UsageError

HISTORY_SEASONS = 3      # the history shown: about three seasons, at least three horizons
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def history_tail(values: Sequence[float], horizon: int, period: int) -> int:
    return min(len(values), max(3 * horizon, HISTORY_SEASONS * period, 24))


def band(forecast) -> tuple[list[float], list[float], str] | None:
    """The outer quantiles (lowest, highest) and their label, e.g. '80% interval'."""
    levels = sorted(forecast.quantiles)
    if len(levels) < 2:
        return None
    low, high = levels[0], levels[-1]
    return forecast.quantiles[low], forecast.quantiles[high], f"{round((high - low) * 100)}% interval"


def terminal_plot(series_values: Sequence[float], history_stamps: Sequence[str], forecast, period: int,
                  width: int = 100, height: int = 20, color: bool = False) -> str:
    """One series' plot as text."""
    try:
        import plotext as plt
    except ImportError:
        raise UsageError("--plot needs plotext: pip install 'rnncli[plot]'") from None
    keep = history_tail(series_values, len(forecast.point), period)
    history = list(series_values[-keep:])
    stamps = list(history_stamps[-keep:]) + forecast.timestamps
    x_history = list(range(keep))
    x_future = list(range(keep - 1, keep + len(forecast.point)))   # joined to the last value
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.title(forecast.series)
    plt.plot(x_history, history, label="history", marker="braille")
    plt.plot(x_future, [history[-1]] + forecast.point, label="forecast (median)", marker="braille")
    outer = band(forecast)
    if outer is not None:
        low, high, label = outer
        plt.plot(x_future, [history[-1]] + low, label=label, marker=".")
        plt.plot(x_future, [history[-1]] + high, marker=".")
    ticks = sorted({0, keep - 1, len(stamps) - 1})
    plt.xticks(ticks, [stamps[t] for t in ticks])
    text = plt.build()
    return text if color else ANSI.sub("", text)


def image_plot(path: Path, histories: list[tuple[Sequence[float], Sequence[str]]], forecasts: list,
               period: int) -> None:
    """Every series in one PNG (one panel per series), written atomically."""
    try:
        import matplotlib
    except ImportError:
        raise UsageError("--plot-out needs matplotlib: pip install 'rnncli[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    from rnncli.atomic import atomic_path

    figure, axes = pyplot.subplots(len(forecasts), 1, figsize=(10, 3.2 * len(forecasts)), squeeze=False)
    for axis, (values, stamps), forecast in zip(axes[:, 0], histories, forecasts):
        keep = history_tail(values, len(forecast.point), period)
        horizon = len(forecast.point)
        x_history, x_future = list(range(keep)), list(range(keep, keep + horizon))
        axis.plot(x_history, list(values[-keep:]), color="black", linewidth=1, label="history")
        axis.plot(x_future, forecast.point, color="tab:blue", linewidth=1.5, label="forecast (median)")
        outer = band(forecast)
        if outer is not None:
            low, high, label = outer
            axis.fill_between(x_future, low, high, color="tab:blue", alpha=0.25, label=label)
        labels = list(stamps[-keep:]) + forecast.timestamps
        ticks = sorted({0, keep - 1, keep + horizon - 1})
        axis.set_xticks(ticks, [labels[t] for t in ticks])
        axis.set_title(forecast.series)
        axis.legend(loc="upper left", fontsize="small")
    figure.tight_layout()
    if path.suffix.lower() != ".png":
        raise UsageError(f"--plot-out {path}: give a .png file name")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
    pyplot.close(figure)
