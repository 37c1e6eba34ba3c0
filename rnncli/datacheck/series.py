"""Checks of time series (CSV, TSV or JSONL with a header; wide, or long with --id-column).

Columns are chosen as `train forecast` chooses them (rnncli/readers/timeseries.py): the
time column given or found by name, the targets given or every numeric column. Each
series keeps O(1) state while the file streams past: its last timestamp, a count of each
step between timestamps (at most MAX_STEPS distinct) with the first line of each, and
its missing values. The frequency is then the most common step (or --freq), and every
other step is a gap (training refuses those: fill them with empty values), a duplicate
or a step back in time (both refused too). Dates are counted in days, and in months when
they all fall on one day of the month or all on month ends; weekday-only dates that
mostly follow each other are trading days (a closure of a few weekdays is no gap).
A column whose first value has four digits is read as years, as training reads a column
of four-digit integers; a later value of another width is then reported as not fitting.
"""

from __future__ import annotations

import calendar
import csv
import json
from collections import Counter
from datetime import date
from typing import Any, Iterator

from rnncli.datacheck.common import CheckOptions, file_entry
from rnncli.datacheck.report import Findings, Report
from rnncli.datacheck.scan import ByteStats, scan
from rnncli.datacheck.stats import LengthStats
from rnncli.errors import ConfigError, DataError
from rnncli.readers.text import display_name
from rnncli.readers.timeseries import detect_format, is_missing, parse_value, pick_time_column
from rnncli.timestamps import (MAX_CLOSED_WEEKDAYS, Freq, detect_format as time_format, fit_unit, infer_freq,
                               parse_freq, parse_position, weekdays_between)

MAX_STEPS = 1000


class SeriesState:
    """One series as it streams past: steps between its timestamps, and their first lines."""

    def __init__(self, name: str, line: int):
        self.name, self.first_line, self.rows = name, line, 0
        self.fmt = None
        self.previous: tuple[int, str, int] | None = None      # (position, timestamp, line)
        self.steps: Counter[int] = Counter()
        self.step_first: dict[int, tuple[int, str, str]] = {}  # step -> (line, timestamp, previous timestamp)
        self.months: Counter[int] = Counter()                  # the same steps counted in months (dates)
        self.days_of_month: set[int] = set()
        self.month_ends = self.weekdays_only = True
        self.closures = 0                                      # weekday runs too long for trading days
        self.closure_first: tuple[int, str, str] | None = None
        self.missing: Counter[str] = Counter()
        self.missing_first: dict[str, int] = {}

    def add(self, stamp: str, line: int, name: str, findings: Findings) -> None:
        self.rows += 1
        try:
            self.fmt = self.fmt or time_format([stamp])
            position = parse_position(stamp, self.fmt)
        except ValueError as exc:
            findings.add("error", "bad-timestamp", name, line, str(exc), detail=stamp.strip()[:40])
            return
        if self.fmt.kind == "date":
            self.track_date(date.fromordinal(position))
        if self.previous is not None:
            step = position - self.previous[0]
            if step in self.steps or len(self.steps) < MAX_STEPS:
                self.steps[step] += 1
                self.step_first.setdefault(step, (line, stamp.strip(), self.previous[1]))
            if self.fmt.kind == "date":
                day, before = date.fromordinal(position), date.fromordinal(self.previous[0])
                self.months[(day.year - before.year) * 12 + day.month - before.month] += 1
                if step > 0 and weekdays_between(self.previous[0], position) > MAX_CLOSED_WEEKDAYS:
                    self.closures += 1
                    self.closure_first = self.closure_first or (line, stamp.strip(), self.previous[1])
        self.previous = (position, stamp.strip(), line)

    def track_date(self, day: date) -> None:
        self.days_of_month.add(day.day)
        self.month_ends &= day.day == calendar.monthrange(day.year, day.month)[1]
        self.weekdays_only &= day.weekday() < 5

    def frequency(self, given: str | None) -> tuple[Freq, dict[int, int]]:
        """The series' frequency and its steps in that frequency's unit."""
        if self.fmt is None:
            return Freq("step"), {}
        if given is not None:
            freq = fit_unit(self.fmt, parse_freq(given))
            if freq.unit == "month" and self.fmt.kind == "date":
                return freq, dict(self.months)
            if freq.unit != "step":
                return freq, dict(self.steps)
        if self.fmt.kind == "date" and len(self.steps) > 1:
            anchored = (len(self.days_of_month) == 1 and max(self.days_of_month) <= 28) or self.month_ends
            if anchored:
                return Freq("month", self.months.most_common(1)[0][0]), dict(self.months)
            if self.weekdays_only and self.steps.get(1, 0) + self.steps.get(3, 0) >= 0.8 * sum(self.steps.values()):
                return Freq("bday"), dict(self.steps)
        positive = Counter({step: n for step, n in self.steps.items() if step > 0})
        if not positive:
            return infer_freq(self.fmt, [0]), dict(self.steps)
        unit = infer_freq(self.fmt, [0, 1]).unit
        return Freq(unit, positive.most_common(1)[0][0]), dict(self.steps)


def rows(path: str, name: str, fmt: str | None, findings: Findings,
         stats: ByteStats) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, {column: cell}) per row; the header is the first row's (JSONL: each record's keys)."""
    lines = scan(path, findings, stats)
    header: list[str] | None = None
    for number, line in lines:
        if not line.strip():
            continue
        kind = detect_format(path, fmt, line) if header is None else kind
        if kind == "jsonl":
            try:
                record = json.loads(line, parse_constant=lambda c: None)
            except (ValueError, RecursionError) as exc:
                findings.add("error", "bad-record", name, number, f"invalid JSON ({str(exc).split(':')[0]})")
                continue
            if not isinstance(record, dict):
                findings.add("error", "bad-record", name, number, "expected a JSON object")
                continue
            header = header or list(record)
            yield number, {k: "" if v is None else str(v) for k, v in record.items()}
            continue
        try:
            cells = next(csv.reader([line], strict=True)) if kind == "csv" else line.split("\t")
        except csv.Error as exc:
            findings.add("error", "bad-record", name, number, f"malformed CSV ({str(exc).splitlines()[0]})")
            continue
        if header is None:
            header = [cell.strip() for cell in cells]
            yield number, {}
            continue
        if len(cells) != len(header):
            findings.add("error", "bad-record", name, number, f"expected {len(header)} fields (as in the header), "
                         f"found {len(cells)}", detail=f"{len(cells)} fields")
            continue
        yield number, dict(zip(header, cells))


def check_forecast(files: dict[str, str], options: CheckOptions, findings: Findings) -> Report:
    if options.freq is not None:
        parse_freq(options.freq)   # a ConfigError (exit 2) before any file is read
    entries = []
    for role, path in files.items():
        if path is not None:
            entries.append(check_series_file(role, path, options, findings))
    return Report("forecast", entries, findings.sorted())


def check_series_file(role: str, path: str, options: CheckOptions, findings: Findings) -> dict[str, Any]:
    name, stats = display_name(path), ByteStats()
    series: dict[str, SeriesState] = {}
    columns: dict[str, Any] = {}
    broken = False
    for number, cells in rows(path, name, options.format, findings, stats):
        if broken or not cells:
            continue   # a header row (the columns come with the first data row), or unusable columns
        if not columns:
            try:
                columns = choose_columns(list(cells), options, name)
            except DataError as exc:
                findings.add_error(exc, name, "bad-columns")
                broken = True   # the rest is read for its bytes only
                continue
        add_row(cells, number, columns, options, series, name, findings)
    return series_entry(role, name, stats, columns, series, options, findings)


def choose_columns(header: list[str], options: CheckOptions, name: str) -> dict[str, Any]:
    taken = tuple(c for c in (options.id_column,) if c)
    time_column = pick_time_column(header, options.time_column, taken, name)
    for column in (*(options.target or ()), *taken):
        if column not in header:
            raise DataError.at(name, 1, f"no column {column!r}; the columns are {', '.join(map(repr, header))}")
    candidates = list(options.target) if options.target else [c for c in header if c not in (time_column, *taken)]
    return {"time": time_column, "candidates": candidates, "targets": {}, "given": bool(options.target)}


def add_row(cells: dict[str, str], number: int, columns: dict[str, Any], options: CheckOptions,
            series: dict[str, SeriesState], name: str, findings: Findings) -> None:
    key = cells.get(options.id_column, "").strip() if options.id_column else ""
    if options.id_column and not key:
        findings.add("error", "empty-id", name, number, f"empty series id in column {options.id_column!r}")
        return
    stamp = cells.get(columns["time"], "")
    if not stamp.strip():
        findings.add("error", "empty-timestamp", name, number, f"empty timestamp in column {columns['time']!r}")
        return
    state = series.get(key) or series.setdefault(key, SeriesState(key, number))
    state.add(stamp, number, name, findings)
    for column in columns["candidates"]:
        cell = cells.get(column, "")
        if is_missing(cell):
            state.missing[column] += 1
            state.missing_first.setdefault(column, number)
            continue
        if column not in columns["targets"]:   # a target is a column whose first value is a number
            columns["targets"][column] = columns["given"] or is_number(cell)
        if columns["targets"][column]:
            try:
                parse_value(cell, name, number, column)
            except DataError as exc:
                findings.add_error(exc, name, "bad-value")


def is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def series_entry(role: str, name: str, stats: ByteStats, columns: dict[str, Any], series: dict[str, SeriesState],
                 options: CheckOptions, findings: Findings) -> dict[str, Any]:
    targets = [c for c, numeric in columns.get("targets", {}).items() if numeric]
    if columns and not targets:
        findings.add("error", "no-target", name, 1, "no numeric value columns to forecast; name one with --target")
    lengths = LengthStats("rows")
    described = []
    for state in series.values():
        lengths.add(state.rows, state.first_line)
        described.append(describe_series(state, name, targets, options, findings))
    return file_entry(role, name, stats, layout="long" if options.id_column else "wide",
                      time_column=columns.get("time"), targets=targets, series=described[:100],
                      series_count=len(series), lengths=lengths.to_dict())


def describe_series(state: SeriesState, name: str, targets: list[str], options: CheckOptions,
                    findings: Findings) -> dict[str, Any]:
    try:
        freq, steps = state.frequency(options.freq)
    except ConfigError as exc:
        findings.add("error", "bad-freq", name, None, str(exc))
        freq, steps = Freq("step"), {}
    label = f"series {state.name!r}: " if state.name else ""
    gaps = missing_steps = duplicates = backwards = 0
    for step, count in sorted(steps.items()):
        line, stamp, before = state.step_first.get(step, (None, "", ""))
        if step == 0:
            duplicates += count
            findings.add("error", "duplicate-timestamp", name, line, f"{label}duplicated timestamp {stamp!r} "
                         "(also on the line before)", count=count)
        elif step < 0:
            backwards += count
            findings.add("error", "unordered", name, line, f"{label}timestamp {stamp!r} comes before {before!r}; "
                         "rows must be in time order", count=count)
        elif freq.unit != "bday" and step != freq.step:
            gaps += count
            missing_steps += count * max(0, step // freq.step - 1)
            findings.add("error", "gap", name, line, f"{label}gap: {stamp!r} after {before!r} (the series is "
                         f"{freq.name}); training refuses gaps: fill them with empty values, or give --freq",
                         count=count)
    if freq.unit == "bday" and state.closures:
        gaps += state.closures
        line, stamp, before = state.closure_first
        findings.add("error", "gap", name, line, f"{label}gap: {stamp!r} after {before!r}: more than "
                     f"{MAX_CLOSED_WEEKDAYS} weekdays missing in a trading-day series", count=state.closures)
    for column in targets:
        if state.missing[column]:
            findings.add("warning", "missing-values", name, state.missing_first[column],
                         f"{label}{state.missing[column]:,} missing value(s) in {column!r}; training interpolates "
                         "them (or drops them at the ends)", count=state.missing[column])
    fmt_name = state.fmt.kind if state.fmt else None
    return {"name": state.name, "rows": state.rows, "first_line": state.first_line, "timestamps": fmt_name,
            "frequency": freq.name, "gaps": gaps, "missing_steps": missing_steps, "duplicates": duplicates,
            "unordered": backwards, "missing_values": {c: state.missing[c] for c in targets}}
