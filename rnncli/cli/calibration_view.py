"""How `rnncli eval` shows a classifier's or tagger's calibration: the ECE and the
reliability table (confidence bins against accuracy). Called by the task CLI modules'
render_report when the report carries a "calibration" entry; `reliability_plot` draws the
reliability diagram as text for `eval --plot`."""

from __future__ import annotations

import re
from typing import Any

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render_calibration(report: dict[str, Any], console) -> None:
    from rich.table import Table

    calibration = report.get("calibration")
    if not calibration:
        return
    table = Table(title=f"calibration: ECE {calibration['ece']:.4f} over {calibration['count']:,} "
                        f"{calibration['unit']} ({calibration['bins']} equal-width bins; temperature "
                        f"{calibration['temperature']:.3f}, uncalibrated ECE {calibration['ece_uncalibrated']:.4f})",
                  title_justify="left")
    for column in ("confidence bin", "mean confidence", "accuracy", "count"):
        table.add_column(column, justify="left" if column == "confidence bin" else "right")
    for row in calibration["reliability"]:
        if not row["count"]:
            continue   # the JSON keeps every bin; the table shows the filled ones
        table.add_row(f"{row['lower']:.3f}-{row['upper']:.3f}", f"{row['confidence']:.4f}",
                      f"{row['accuracy']:.4f}", f"{row['count']:,}")
    table.caption = f"confidence: {calibration['confidence']}"
    table.caption_justify = "left"
    console.print(table)


def reliability_plot(report: dict[str, Any], width: int = 70, height: int = 20, color: bool = False) -> str:
    """The reliability diagram as text (plotext): accuracy of each filled confidence bin
    as a bar at the bin's mean confidence, against the diagonal of perfect calibration.
    For `rnncli eval --plot`; a report without calibration (not a classifier or tagger)
    is a usage error."""
    from rnncli.errors import UsageError

    calibration = report.get("calibration") or {}
    rows = [row for row in calibration.get("reliability") or [] if row["count"]]
    if not calibration:
        raise UsageError("--plot draws the reliability diagram of a classifier or tagger; "
                         "this report has no calibration")
    try:
        import plotext as plt
    except ImportError:
        raise UsageError("--plot needs plotext: pip install 'rnncli[plot]'") from None
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    plt.title(f"reliability: ECE {calibration['ece']:.4f} over {calibration['count']:,} {calibration['unit']}")
    if rows:
        plt.bar([row["confidence"] for row in rows], [row["accuracy"] for row in rows], label="accuracy per bin",
                width=0.6, marker="sd")
    plt.plot([0.0, 1.0], [0.0, 1.0], label="perfect calibration", marker="braille")   # drawn over the bars
    ticks = [i / 5 for i in range(6)]
    plt.xlim(0.0, 1.0)
    plt.ylim(0.0, 1.0)
    plt.xticks(ticks, [f"{t:.1f}" for t in ticks])
    plt.yticks(ticks, [f"{t:.1f}" for t in ticks])
    plt.xlabel("confidence")
    plt.ylabel("accuracy")
    text = plt.build()
    return text if color else ANSI.sub("", text)
