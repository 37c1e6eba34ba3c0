"""Forecast files: what `rnncli forecast` writes, and scoring one against the actual values
(`rnncli eval --pred FORECAST --actual FILE`, no model needed).

    csv     series,timestamp,forecast,q0.1,q0.5,q0.9      one row per series and step
    jsonl   {"series": ..., "timestamp": ..., "forecast": ..., "q0.1": ..., ...}

Timestamps are written as the input writes them, so a forecast lines up with its series.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from rnncli.errors import DataError, UsageError
from rnncli.metrics.forecast import score_series
from rnncli.readers.text import display_name, read_lines
from rnncli.seasons import seasonal_period
from rnncli.tasks.forecast_data import read
from rnncli.tasks.forecast_predict import BASELINE_METHODS, backtest_report, baseline_forecasts
from rnncli.timestamps import parse_position

OUTPUT_FORMATS = ("csv", "jsonl")
FIXED = ("series", "timestamp", "forecast")


def check_output_format(name: str) -> None:
    if name not in OUTPUT_FORMATS:
        raise UsageError(f"--output-format {name!r} is not one of: {', '.join(OUTPUT_FORMATS)}")


def quantile_column(level: float) -> str:
    return f"q{level:g}"


def forecast_lines(forecasts: Sequence, output_format: str) -> Iterator[str]:
    """The lines of a forecast file (a header first for csv)."""
    if not forecasts:
        return
    levels = list(forecasts[0].quantiles)
    columns = [*FIXED, *map(quantile_column, levels)]
    if output_format == "csv":
        yield csv_line(columns)
    for f in forecasts:
        for step, stamp in enumerate(f.timestamps):
            values = [f.point[step], *(f.quantiles[q][step] for q in levels)]
            if output_format == "csv":
                yield csv_line([f.series, stamp, *(f"{v:.6g}" for v in values)])
            else:
                row = {"series": f.series, "timestamp": stamp,
                       **{c: float(f"{v:.6g}") for c, v in zip(columns[2:], values)}}
                yield json.dumps(row, ensure_ascii=False)


def csv_line(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


# ---- reading a forecast file back --------------------------------------------------------
def read_forecast_file(path: str | Path) -> tuple[list[float], dict[str, list[tuple[int, str, list[float]]]]]:
    """(quantile levels, series -> [(line, timestamp, [forecast, q...])]) of a forecast file."""
    name = display_name(path)
    lines = read_lines(path)
    first = next((line for line in lines if line.strip()), "")
    rows = read_jsonl(lines, name) if first.lstrip().startswith("{") else read_csv(lines, name)
    header, body = rows
    for column in FIXED:
        if column not in header:
            raise DataError.at(name, 1, f"no {column!r} column; a forecast file has the columns "
                                        "series, timestamp, forecast, then one per quantile (q0.1, ...)")
    quantile_names = [c for c in header if c.startswith("q") and c not in FIXED]
    try:
        levels = [float(c[1:]) for c in quantile_names]
    except ValueError:
        raise DataError.at(name, 1, f"a quantile column is named q<level>, e.g. q0.9: {quantile_names}") from None
    wanted = ["forecast", *quantile_names]
    out: dict[str, list[tuple[int, str, list[float]]]] = {}
    for line, cells in body:
        numbers = []
        for column in wanted:
            try:
                numbers.append(float(cells[column]))
            except (TypeError, ValueError):
                raise DataError.at(name, line, f"column {column!r}: {cells.get(column)!r} is not a number") from None
        out.setdefault(str(cells["series"]), []).append((line, str(cells["timestamp"]), numbers))
    if not out:
        raise DataError(f"{name}: no forecast rows")
    return levels, out


def read_csv(lines: list[str], name: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    parsed = list(csv.reader(lines))
    header = [c.strip() for c in parsed[0]] if parsed else []
    body = []
    for number, cells in enumerate(parsed[1:], start=2):
        if not cells:
            continue
        if len(cells) != len(header):
            raise DataError.at(name, number, f"expected {len(header)} fields (as in the header), found {len(cells)}")
        body.append((number, dict(zip(header, cells))))
    return header, body


def read_jsonl(lines: list[str], name: str) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    header: list[str] = []
    body = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            raise DataError.at(name, number, "not a JSON object") from None
        if not isinstance(row, dict):
            raise DataError.at(name, number, "not a JSON object")
        header = header or list(row)
        body.append((number, row))
    return header, body


def evaluate_forecast_file(pred: str | Path, actual: str | Path, options: Mapping[str, Any] | None = None,
                           baselines: bool = True) -> dict[str, Any]:
    """Score a forecast file against the series it forecasts. Each series' in-sample part
    (MASE's scale, and what the baselines are fitted on) is its values before the first
    forecast timestamp."""
    levels, forecasts = read_forecast_file(pred)
    series_set = read(actual, options or {})
    known = {s.name: s for s in series_set.series}
    period = seasonal_period(series_set.freq)
    quantiles = tuple(levels)
    methods = ["rnncli"] + ([key for key, _ in BASELINE_METHODS] if baselines else [])
    per_series, notes, points = {}, [], 0
    pred_name = display_name(pred)
    for name, rows in forecasts.items():
        if name not in known:
            raise DataError.at(pred_name, rows[0][0], f"series {name!r} is not in {series_set.path} "
                                                      f"(its series: {', '.join(list(known)[:10])})")
        series = known[name]
        where = {p: i for i, p in enumerate(series.index.positions)}
        indices = []
        for line, stamp, _ in rows:
            try:
                position = parse_position(stamp, series.index.fmt)
            except (ValueError, DataError):
                position = None
            if position not in where:
                raise DataError.at(pred_name, line, f"timestamp {stamp!r} of series {name!r} is not in "
                                                    f"{series_set.path}")
            indices.append(where[position])
        first = min(indices)
        if first < 2:
            raise DataError.at(pred_name, rows[0][0], f"series {name!r}: the forecast starts at its first "
                                                      "values; MASE needs values before it")
        values = list(series.values)
        insample, actual_values = values[:first], [values[i] for i in indices]
        point = [numbers[0] for _, _, numbers in rows]
        table = [numbers[1:] for _, _, numbers in rows] if levels else None
        scores = {"rnncli": score_series(actual_values, point, insample, period, table, quantiles)}
        others = baseline_forecasts(insample, max(indices) - first + 1, period, quantiles or (0.5,), methods,
                                    notes, name)
        for method, (b_point, b_rows) in others.items():
            picked = [i - first for i in indices]
            scores[method] = score_series(actual_values, [b_point[k] for k in picked], insample, period,
                                          [b_rows[k] for k in picked] if (b_rows and levels) else None, quantiles)
        per_series[name] = scores
        points += len(rows)
    report = backtest_report(series_set, per_series, methods, quantiles, period, notes)
    return {**report, "file": pred_name, "actual": series_set.path, "points": points,
            "horizon": max(len(rows) for rows in forecasts.values())}
