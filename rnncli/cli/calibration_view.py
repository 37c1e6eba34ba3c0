"""How `rnncli eval` shows a classifier's or tagger's calibration: the ECE and the
reliability table (confidence bins against accuracy). Called by the task CLI modules'
render_report when the report carries a "calibration" entry."""

from __future__ import annotations

from typing import Any


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
