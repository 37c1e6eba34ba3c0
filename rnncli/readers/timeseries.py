"""Time series from CSV, TSV or JSONL with a header (JSONL: one object per row).

    wide   a time column and value columns: each target column is one series
           time_column (default: the first of TIME_COLUMNS present, else the first column that
           is not the id or a covariate),
           target (one or more columns; default every numeric column), covariates
           (columns read as model inputs only, never forecast).
    long   id_column names the series, one row per series and time step; the rows of
           different series may interleave, each series must be in time order.

The time column goes through rnncli.timestamps (form, frequency, order and regularity
checks; every defect names `file:line`). All series of one file share one timestamp form
and frequency.

Missing values (an empty cell, NaN, NA, null) inside a series are filled by linear
interpolation between their neighbours and counted in `Series.filled`, so the caller can
say how many it filled; with missing="error" the first one is a DataError naming the line
and the column. Missing values at a series' start or end cannot be interpolated: they are
dropped (counted in `Series.trimmed`), so a series ends at its last observation (a
trailing empty row, as in a file awaiting the next figure, is not taken for a zero).
Covariates are interpolated too, their ends filled with the nearest value. A value that
is not a number is a DataError naming the line and the column; so are infinities.

Readers are leaves: this one imports rnncli.errors, rnncli.readers.text and
rnncli.timestamps (which itself imports only rnncli.errors and the standard library).
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

from rnncli.errors import DataError, UsageError
from rnncli.readers.text import STDIN, display_name, read_lines, read_text
from rnncli.timestamps import Freq, TimeFormat, TimeIndex, parse_index

FORMATS = ("csv", "tsv", "jsonl")
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".json": "jsonl"}
TIME_COLUMNS = ("timestamp", "time", "date", "datetime", "ds", "period", "year", "quarter", "month",
                "week", "day")
MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})
MISSING_POLICIES = ("interpolate", "error")


@dataclass(frozen=True)
class Series:
    """One series: values with their timestamps as written, positions and source lines."""

    name: str
    values: tuple[float, ...]
    index: TimeIndex                     # positions (len(values)), form and frequency
    timestamps: tuple[str, ...]
    lines: tuple[int, ...]
    covariates: dict[str, tuple[float, ...]] = field(default_factory=dict)
    filled: int = 0                      # missing values filled by interpolation
    trimmed: int = 0                     # missing values dropped at the start or end

    def __len__(self) -> int:
        return len(self.values)

    def future_timestamps(self, horizon: int) -> list[str]:
        """The `horizon` timestamps after the last value, in the input's own form."""
        return self.index.future_labels(horizon)


@dataclass(frozen=True)
class SeriesSet:
    """Every series of one file, sharing a timestamp form and frequency."""

    path: str
    series: tuple[Series, ...]
    layout: str                          # wide | long
    time_column: str
    covariates: tuple[str, ...] = ()

    @property
    def fmt(self) -> TimeFormat:
        return self.series[0].index.fmt

    @property
    def freq(self) -> Freq:
        return self.series[0].index.freq

    @property
    def filled(self) -> int:
        return sum(s.filled for s in self.series)

    @property
    def trimmed(self) -> int:
        return sum(s.trimmed for s in self.series)


def read_series(path: str | Path, fmt: str | None = None, time_column: str | None = None,
                target: str | Sequence[str] | None = None, covariates: Sequence[str] = (),
                id_column: str | None = None, freq: str | Freq | None = None,
                missing: str = "interpolate") -> SeriesSet:
    """Read every series of a file ("-" for stdin); any defect is a DataError naming file:line."""
    if missing not in MISSING_POLICIES:
        raise UsageError(f"missing={missing!r} is not one of: {', '.join(MISSING_POLICIES)}")
    name = display_name(path)
    header, rows = read_table(path, fmt)
    time_column = pick_time_column(header, time_column, (id_column, *covariates), name)
    covariates = tuple(covariates)
    for column in covariates + ((id_column,) if id_column else ()):
        require_column(header, column, name, "covariate" if column in covariates else "id")
    targets = pick_targets(header, rows, target, (time_column, id_column, *covariates), name)
    if id_column is None:
        built = build_series(rows, header, time_column, targets, covariates, freq, missing, name)
        return SeriesSet(name, tuple(built), "wide", time_column, covariates)
    if len(targets) != 1:
        raise UsageError(f"{name}: a long layout (id_column {id_column!r}) forecasts one target "
                         f"column; give target, one of {', '.join(map(repr, targets))}")
    groups: dict[str, list[tuple[int, list[str]]]] = {}
    id_index = header.index(id_column)
    for line, cells in rows:
        key = cells[id_index].strip()
        if not key:
            raise DataError.at(name, line, f"empty series id in column {id_column!r}")
        groups.setdefault(key, []).append((line, cells))
    built = []
    for key, group in groups.items():
        (one,) = build_series(group, header, time_column, targets, covariates, freq, missing, name)
        built.append(replace(one, name=key))
    return SeriesSet(name, tuple(shared_freq(built, name)), "long", time_column, covariates)


def require_length(series_set: SeriesSet, context: int, horizon: int) -> None:
    """Refuse, naming the series and the minimum, a series shorter than context + horizon
    (the windows training needs). Call it once context and horizon are known."""
    minimum = context + horizon
    for series in series_set.series:
        if len(series) < minimum:
            raise DataError.at(series_set.path, series.lines[0] if series.lines else None,
                               f"series {series.name!r} has {len(series)} values; at least "
                               f"{minimum} are needed (context {context} + horizon {horizon}); "
                               "give a shorter context or horizon")


# ---- reading the table ------------------------------------------------------------------

def detect_format(path: str | Path, given: str | None, first_line: str) -> str:
    if given is not None:
        if given not in FORMATS:
            raise UsageError(f"format {given!r} is not one of: {', '.join(FORMATS)}")
        return given
    suffix = Path(str(path)).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    # stdin or an unknown extension: the first line tells JSONL, TSV and CSV apart
    if first_line.lstrip().startswith("{"):
        return "jsonl"
    return "tsv" if "\t" in first_line else "csv"


def read_table(path: str | Path, given: str | None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the (line, cells) rows of a file, blank lines skipped."""
    name = display_name(path)
    text = "\n".join(read_lines(STDIN)) + "\n" if str(path) == STDIN else read_text(path)
    if not text.strip():
        raise DataError(f"{name}: file is empty")
    first = next(line for line in text.split("\n") if line.strip())
    fmt = detect_format(path, given, first)
    if fmt == "jsonl":
        header, rows = read_jsonl_rows(text, name)
    elif fmt == "csv":
        header, rows = read_csv_rows(text, name)
    else:
        lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
        header = lines[0].split("\t")
        rows = [(n, line.split("\t")) for n, line in enumerate(lines[1:], start=2) if line.strip()]
    for line, cells in rows:
        if len(cells) != len(header):
            raise DataError.at(name, line, f"expected {len(header)} fields (as in the header), "
                                           f"found {len(cells)}")
    if not rows:
        raise DataError(f"{name}: no rows after the header")
    return [column.strip() for column in header], rows


def read_csv_rows(text: str, name: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
    try:
        header = next(reader)
        rows, previous_end = [], reader.line_num
        for cells in reader:
            number, previous_end = previous_end + 1, reader.line_num
            if cells and not (len(cells) == 1 and not cells[0].strip()):
                rows.append((number, cells))
    except csv.Error as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "error"
        raise DataError.at(name, reader.line_num, f"malformed CSV ({reason})") from None
    return header, rows


def read_jsonl_rows(text: str, name: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """JSON objects as rows; the header is every key in order of first appearance; a key
    a record lacks is a missing value. Numbers and strings are kept as text."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_constant=lambda c: None)  # NaN -> missing
        except (ValueError, RecursionError) as exc:
            raise DataError.at(name, number, f"invalid JSON ({str(exc).split(':')[0]})") from None
        if not isinstance(record, dict):
            raise DataError.at(name, number, f"expected a JSON object, found {type(record).__name__}")
        records.append((number, record))
    header = list(dict.fromkeys(key for _, record in records for key in record))
    rows = []
    for number, record in records:
        cells = []
        for key in header:
            value = record.get(key)
            if isinstance(value, (dict, list, bool)):
                raise DataError.at(name, number, f"column {key!r}: expected a number or a string, "
                                                 f"found {json.dumps(value)[:40]}")
            cells.append("" if value is None else str(value))
        rows.append((number, cells))
    return header, rows


# ---- columns ----------------------------------------------------------------------------

def require_column(header: list[str], column: str, name: str, role: str) -> None:
    if column not in header:
        shown = ", ".join(repr(c) for c in header)
        raise DataError.at(name, 1, f"no {role} column {column!r}; the columns are {shown}")


def pick_time_column(header: list[str], wanted: str | None, taken: tuple, name: str) -> str:
    """The time column asked for, else the first of TIME_COLUMNS (any case), else the first
    column that is not the id or a covariate."""
    if wanted is not None:
        require_column(header, wanted, name, "time")
        return wanted
    lowered = [column.lower() for column in header]
    for candidate in TIME_COLUMNS:
        if candidate in lowered:
            return header[lowered.index(candidate)]
    return next((column for column in header if column not in taken), header[0])


def pick_targets(header: list[str], rows: list[tuple[int, list[str]]],
                 target: str | Sequence[str] | None, taken: tuple, name: str) -> list[str]:
    """The target columns asked for, else every other column whose first value is a number."""
    if target is not None:
        wanted = [target] if isinstance(target, str) else list(target)
        for column in wanted:
            require_column(header, column, name, "target")
            if column in taken:
                raise UsageError(f"{name}: column {column!r} cannot be a target and also the "
                                 "time, id or a covariate column")
        return wanted
    targets = []
    for index, column in enumerate(header):
        if column in taken:
            continue
        first = next((cells[index] for _, cells in rows if not is_missing(cells[index])), None)
        if first is not None and is_number(first):
            targets.append(column)
    if not targets:
        raise DataError.at(name, 1, "no numeric value columns to forecast; name one with target")
    return targets


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def is_number(cell: str) -> bool:
    try:
        return math.isfinite(float(cell))
    except ValueError:
        return False


def parse_value(cell: str, name: str, line: int, column: str) -> float | None:
    """A cell as a float, None when missing; DataError for anything else."""
    if is_missing(cell):
        return None
    try:
        value = float(cell)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError.at(name, line, f"column {column!r}: {cell.strip()[:40]!r} is not a number")
    return value


# ---- series -----------------------------------------------------------------------------

def build_series(rows: list[tuple[int, list[str]]], header: list[str], time_column: str,
                 targets: list[str], covariates: tuple[str, ...], freq: str | Freq | None,
                 missing: str, name: str) -> list[Series]:
    """One Series per target column over `rows` (all of one series' time steps)."""
    lines = [line for line, _ in rows]
    time_index = header.index(time_column)
    stamps = [cells[time_index] for _, cells in rows]
    for line, stamp in zip(lines, stamps):
        if not stamp.strip():
            raise DataError.at(name, line, f"empty timestamp in column {time_column!r}")
    index = parse_index(stamps, lines, name, freq)
    extra = {}
    for column in covariates:
        raw = column_values(rows, header.index(column), column, missing, name)
        extra[column], _ = interpolate(raw, lines, column, name, ends="nearest")
    series = []
    for column in targets:
        raw = column_values(rows, header.index(column), column, missing, name)
        start = next((i for i, v in enumerate(raw) if v is not None), None)
        if start is None:
            raise DataError.at(name, lines[0], f"column {column!r} has no values")
        end = max(i for i, v in enumerate(raw) if v is not None) + 1
        values, filled = interpolate(raw[start:end], lines[start:end], column, name, ends="none")
        kept = TimeIndex(index.fmt, index.freq, index.positions[start:end])
        series.append(Series(column, tuple(values), kept, tuple(s.strip() for s in stamps[start:end]),
                             tuple(lines[start:end]),
                             {k: tuple(v[start:end]) for k, v in extra.items()},
                             filled, len(raw) - (end - start)))
    return series


def column_values(rows: list[tuple[int, list[str]]], index: int, column: str, missing: str,
                  name: str) -> list[float | None]:
    values = []
    for line, cells in rows:
        value = parse_value(cells[index], name, line, column)
        if value is None and missing == "error":
            raise DataError.at(name, line, f"missing value in column {column!r} (missing='error'; "
                                           "fill it, or let it be interpolated)")
        values.append(value)
    return values


def interpolate(raw: list[float | None], lines: list[int], column: str, name: str,
                ends: str) -> tuple[list[float], int]:
    """Fill None by linear interpolation over row positions; returns (values, how many filled).
    ends="nearest" also fills leading and trailing gaps with the nearest value."""
    known = [i for i, v in enumerate(raw) if v is not None]
    if not known:
        raise DataError.at(name, lines[0], f"column {column!r} has no values")
    values = list(raw)
    for left, right in zip(known, known[1:]):
        step = (raw[right] - raw[left]) / (right - left)
        for i in range(left + 1, right):
            values[i] = raw[left] + step * (i - left)
    if ends == "nearest":
        values[:known[0]] = [raw[known[0]]] * known[0]
        values[known[-1] + 1:] = [raw[known[-1]]] * (len(raw) - known[-1] - 1)
    filled = sum(1 for v in raw if v is None) - (0 if ends == "nearest" else
                                                 known[0] + len(raw) - known[-1] - 1)
    return values, filled


def shared_freq(series: list[Series], name: str) -> list[Series]:
    """Every series of a long file has one frequency; a one-row series, whose frequency
    cannot be inferred, takes the others'."""
    longest = max(series, key=len)
    for one in series:
        if len(one) > 1 and (one.index.freq, one.index.fmt) != (longest.index.freq, longest.index.fmt):
            raise DataError.at(name, one.lines[0], f"series {one.name!r} is {one.index.freq.name} but "
                                                   f"series {longest.name!r} is "
                                                   f"{longest.index.freq.name}; one file holds one "
                                                   "frequency")
    return [one if len(one) > 1 else
            replace(one, index=TimeIndex(longest.index.fmt, longest.index.freq, one.index.positions))
            for one in series]
