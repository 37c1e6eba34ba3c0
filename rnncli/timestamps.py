"""Timestamps of a time series: parsing, frequency inference and checks, formatting, calendar.

Accepted forms (one form per column; the first value fixes it):

    int       integer steps            1, 2, 3 ... (any fixed stride)
    year      plain years              1956  (every value exactly four digits)
    quarter   quarters                 1956-Q1, 1956Q1, 1956 Q1 (the separator is kept)
    month     year-month               1956-01
    date      ISO dates                1956-01-31
    datetime  ISO date-times           2000-06-05T00:30, 2000-06-05 00:30:00.250, ...Z, ...+01:00

Each timestamp becomes an integer *position*: months for year/quarter/month forms (and
dates all on one day of the month, or all on month ends), days for dates, microseconds for
date-times, the value for integers. A `Freq(unit, step)`: positions differ by `step`.

Trading days (`unit="bday"`): weekday dates with weekends and a few holidays absent, as
stock prices are published. Calendar days between rows vary (1 to ~9), so such a series
counts rows: a row is a step, seasonal periods and horizons are in rows (a trading week is
5). Future timestamps are the next weekdays; no holiday calendar is applied (none can be
known from the data), so a forecast may name a holiday. Up to MAX_CLOSED_WEEKDAYS weekdays
in a row may be absent (the NYSE closed four days after 11 September 2001).

Duplicated, unordered or irregular timestamps raise DataError naming `file:line`.
Imports only rnncli.errors and the standard library (no torch).
"""

from __future__ import annotations

import calendar
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Sequence

from rnncli.errors import ConfigError, DataError

INT = re.compile(r"[+-]?\d+")
YEAR = re.compile(r"\d{4}")
QUARTER = re.compile(r"(\d{4})([- ]?)[Qq]([1-4])")
MONTH = re.compile(r"(\d{4})-(\d{2})")
DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})([T ])(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?"
                      r"(Z|[+-]\d{2}:?\d{2})?")
US_PER_SECOND = 1_000_000
US_PER_DAY = 86_400 * US_PER_SECOND
EPOCH = datetime(1, 1, 1)
MAX_CLOSED_WEEKDAYS = 5
MONTH_END = -1  # TimeFormat.anchor for dates that all fall on the last day of their month
HOUR = 3600 * US_PER_SECOND
FREQ_LABELS = {("month", 12): "yearly", ("month", 3): "quarterly", ("month", 1): "monthly",
               ("day", 7): "weekly", ("day", 1): "daily", ("bday", 1): "trading-day",
               ("us", US_PER_DAY): "daily", ("us", HOUR): "hourly", ("us", HOUR // 2): "half-hourly"}
UNIT_OF_KIND = {"int": "step", "year": "month", "quarter": "month", "month": "month", "datetime": "us"}


@dataclass(frozen=True)
class TimeFormat:
    """How a column writes its timestamps, so forecasts continue in the same form.

    kind: int | year | quarter | month | date | datetime. sep: the quarter separator
    ("-", "", " ") or the date-time separator ("T", " "). precision: date-times' digits
    after the minutes: 0 (HH:MM), 2 (HH:MM:SS) or 3..8 (HH:MM:SS.f to .ffffff).
    suffix: a date-time's zone ("Z", "+01:00"), kept verbatim. anchor: for dates counted
    in months, their day of the month (1..28) or MONTH_END; 0 otherwise.
    """

    kind: str
    sep: str = ""
    precision: int = 0
    suffix: str = ""
    anchor: int = 0


@dataclass(frozen=True)
class Freq:
    """Consecutive positions differ by `step` units: step (integers), month, day, bday
    (trading days, counted in rows), us (microseconds, for date-times)."""

    unit: str
    step: int = 1

    @property
    def name(self) -> str:
        if (self.unit, self.step) in FREQ_LABELS:
            return FREQ_LABELS[(self.unit, self.step)]
        if self.unit == "us":
            seconds = self.step / US_PER_SECOND
            return f"{seconds / 60:g}min" if seconds % 60 == 0 else f"{seconds:g}s"
        return f"{self.step}-{self.unit}" if self.step != 1 else self.unit

    @property
    def group(self) -> str:
        """The M4 frequency group: yearly, quarterly, monthly, weekly, daily, hourly, other
        (trading days are daily; M4's hourly group holds every sub-daily series)."""
        name = "daily" if self.name == "trading-day" else self.name
        if name in ("yearly", "quarterly", "monthly", "weekly", "daily"):
            return name
        return "hourly" if self.unit == "us" and self.step < US_PER_DAY else "other"


@dataclass(frozen=True)
class TimeIndex:
    """A column's form and frequency, with its parsed positions (one per row)."""

    fmt: TimeFormat
    freq: Freq
    positions: tuple[int, ...]

    def future(self, horizon: int) -> list[int]:
        return advance(self.positions[-1], self.freq, horizon)

    def future_labels(self, horizon: int) -> list[str]:
        """The next `horizon` timestamps, written as the input writes them."""
        return [format_position(p, self.fmt) for p in self.future(horizon)]


# ---- parsing ----------------------------------------------------------------------------

def detect_format(values: Sequence[str]) -> TimeFormat:
    """The form of a column, decided from its first value (and, for integers, all values:
    a column of four-digit integers is read as years). ValueError when nothing fits."""
    first = values[0].strip()
    if INT.fullmatch(first):
        every_year = all(YEAR.fullmatch(v.strip()) for v in values)
        return TimeFormat("year" if every_year else "int")
    if match := QUARTER.fullmatch(first):
        return TimeFormat("quarter", sep=match.group(2))
    if MONTH.fullmatch(first):
        return TimeFormat("month")
    if DATE.fullmatch(first):
        return TimeFormat("date")
    if match := DATETIME.fullmatch(first):
        return datetime_shape(match)
    raise ValueError(f"unrecognised timestamp {first!r} (expected an integer, a year, YYYY-MM, "
                     "YYYY-Qn, an ISO date or an ISO date-time)")


def parse_position(text: str, fmt: TimeFormat) -> int:
    """One timestamp as a position in its form's unit; ValueError when it does not fit."""
    text = text.strip()
    kind = fmt.kind
    if kind == "int" and INT.fullmatch(text):
        return int(text)
    if kind == "year" and YEAR.fullmatch(text):
        return int(text) * 12
    if kind == "quarter" and (match := QUARTER.fullmatch(text)) and match.group(2) == fmt.sep:
        return int(match.group(1)) * 12 + (int(match.group(3)) - 1) * 3
    if kind == "month" and (match := MONTH.fullmatch(text)) and 1 <= int(match.group(2)) <= 12:
        return int(match.group(1)) * 12 + int(match.group(2)) - 1
    if kind == "date" and DATE.fullmatch(text):
        return date.fromisoformat(text).toordinal()
    if kind == "datetime" and (match := DATETIME.fullmatch(text)) and datetime_shape(match) == fmt:
        moment = datetime.fromisoformat(text[:len(text) - len(match.group(7) or "")].replace(" ", "T"))
        return (moment - EPOCH) // timedelta(microseconds=1)
    raise ValueError(f"timestamp {text!r} is not in the form of the first one ({example(fmt)})")


def datetime_shape(match: re.Match) -> TimeFormat:
    seconds, fraction = match.group(5), match.group(6)
    precision = 0 if seconds is None else 2 + (len(fraction) + 1 if fraction else 0)
    return TimeFormat("datetime", sep=match.group(2), precision=precision, suffix=match.group(7) or "")


def example(fmt: TimeFormat) -> str:
    if fmt.kind == "datetime":
        seconds = ":SS" + ("." + "f" * (fmt.precision - 3) if fmt.precision > 2 else "")
        return f"YYYY-MM-DD{fmt.sep}HH:MM{seconds if fmt.precision else ''}{fmt.suffix}"
    return {"int": "an integer", "year": "YYYY", "quarter": f"YYYY{fmt.sep}Qn", "month": "YYYY-MM",
            "date": "YYYY-MM-DD"}[fmt.kind]


def parse_index(values: Sequence[str], lines: Sequence[int], name: str,
                freq: str | Freq | None = None) -> TimeIndex:
    """Parse a time column, infer its frequency (or check the given one) and check that it
    is strictly increasing and regular. Every defect is a DataError naming `name:line`."""
    if not values:
        raise DataError(f"{name}: no rows")
    try:
        fmt = detect_format(values)
    except ValueError as exc:
        raise DataError.at(name, lines[0], str(exc)) from None
    positions = []
    for text, line in zip(values, lines):
        try:
            positions.append(parse_position(text, fmt))
        except ValueError as exc:
            raise DataError.at(name, line, str(exc)) from None
    check_order(positions, values, lines, name)
    given = fit_unit(fmt, parse_freq(freq) if isinstance(freq, str) else freq)
    if fmt.kind == "date":
        fmt, positions = anchor_dates(fmt, positions, given)
    # A given "step" fixes the unit only: the stride of integer steps is still inferred.
    chosen = given if given is not None and given.unit != "step" else infer_freq(fmt, positions)
    check_regular(positions, chosen, fmt, values, lines, name)
    return TimeIndex(fmt, chosen, tuple(positions))


def fit_unit(fmt: TimeFormat, freq: Freq | None) -> Freq | None:
    """A given frequency in the unit of the column's positions (daily date-times count
    microseconds); ConfigError when it cannot describe such timestamps."""
    if freq is None:
        return None
    if fmt.kind == "datetime" and freq.unit == "day":
        return Freq("us", freq.step * US_PER_DAY)
    units = ("day", "bday", "month") if fmt.kind == "date" else (UNIT_OF_KIND[fmt.kind],)
    if freq.unit not in units:
        raise ConfigError(f"freq {freq.name!r} does not fit timestamps written as {example(fmt)}")
    return freq


def check_order(positions: list[int], values: Sequence[str], lines: Sequence[int], name: str) -> None:
    seen: dict[int, int] = {}
    for index, position in enumerate(positions):
        if position in seen:
            raise DataError.at(name, lines[index], f"duplicated timestamp {values[index].strip()!r} "
                                                   f"(also on line {lines[seen[position]]})")
        seen[position] = index
    for index in range(1, len(positions)):
        if positions[index] < positions[index - 1]:
            raise DataError.at(name, lines[index], f"timestamp {values[index].strip()!r} comes before "
                                                   f"{values[index - 1].strip()!r} on line "
                                                   f"{lines[index - 1]}; rows must be in time order")


def anchor_dates(fmt: TimeFormat, days: list[int], given: Freq | None) -> tuple[TimeFormat, list[int]]:
    """Dates that all fall on one day of the month (or all on month ends) and are not
    evenly spaced in days are counted in months (monthly, quarterly, yearly data)."""
    if given is not None and given.unit != "month":
        return fmt, days
    steps = {b - a for a, b in zip(days, days[1:])}
    if given is None and len(steps) <= 1:
        return fmt, days
    dates = [date.fromordinal(d) for d in days]
    if all(d.day == dates[0].day for d in dates) and dates[0].day <= 28:
        anchor = dates[0].day
    elif all(d.day == calendar.monthrange(d.year, d.month)[1] for d in dates):
        anchor = MONTH_END
    else:
        return fmt, days
    return TimeFormat("date", anchor=anchor), [d.year * 12 + d.month - 1 for d in dates]


def infer_freq(fmt: TimeFormat, positions: list[int]) -> Freq:
    """The frequency of strictly increasing positions: their most common step (so that one
    odd gap is reported as an irregularity, not taken for the frequency), or trading days."""
    unit = UNIT_OF_KIND.get(fmt.kind, "month" if fmt.anchor else "day")
    if len(positions) < 2:
        return Freq(unit, {"year": 12, "quarter": 3}.get(fmt.kind, 1))
    steps = Counter(b - a for a, b in zip(positions, positions[1:]))
    if unit == "day" and len(steps) > 1 and looks_like_trading_days(positions):
        return Freq("bday", 1)
    return Freq(unit, steps.most_common(1)[0][0])


def weekday(ordinal: int) -> int:
    """date.fromordinal(ordinal).weekday() by arithmetic (day 1, 0001-01-01, was a Monday):
    the checks below run once per row of files with many thousand rows."""
    return (ordinal - 1) % 7


def looks_like_trading_days(days: list[int]) -> bool:
    """Weekdays only, mostly one weekday apart, never a long closure."""
    if any(weekday(d) >= 5 for d in days):
        return False
    gaps = [weekdays_between(a, b) for a, b in zip(days, days[1:])]
    return max(gaps) <= MAX_CLOSED_WEEKDAYS and gaps.count(0) >= 0.8 * len(gaps)


def weekdays_between(first: int, last: int) -> int:
    """Weekdays strictly between two day ordinals."""
    if last - first == 1:
        return 0
    whole, rest = divmod(last - first - 1, 7)
    start = weekday(first)
    extra = sum(1 for k in range(1, rest + 1) if (start + k) % 7 < 5)
    return whole * 5 + extra


def check_regular(positions: list[int], freq: Freq, fmt: TimeFormat, values: Sequence[str],
                  lines: Sequence[int], name: str) -> None:
    for index in range(1, len(positions)):
        before, after = positions[index - 1], positions[index]
        if freq.unit == "bday":
            problem = trading_day_problem(before, after)
        elif after - before != freq.step:
            problem = (f"expected {format_position(before + freq.step, fmt)!r} after "
                       f"{values[index - 1].strip()!r}")
        else:
            continue
        if problem:
            raise DataError.at(name, lines[index], f"irregular timestamps: {values[index].strip()!r} "
                                                   f"({problem}; the series is {freq.name}); fill gaps "
                                                   "with empty values or give the right freq")


def trading_day_problem(before: int, after: int) -> str | None:
    if weekday(after) >= 5:
        return f"a {date.fromordinal(after).strftime('%A')} in a trading-day series"
    closed = weekdays_between(before, after)
    if closed > MAX_CLOSED_WEEKDAYS:
        return f"{closed} weekdays missing, at most {MAX_CLOSED_WEEKDAYS} may be"
    return None


FREQ_NAMES = {**dict.fromkeys(("y", "a", "yearly", "annual"), Freq("month", 12)),
              **dict.fromkeys(("q", "quarterly"), Freq("month", 3)),
              **dict.fromkeys(("m", "monthly"), Freq("month", 1)),
              **dict.fromkeys(("w", "weekly"), Freq("day", 7)), **dict.fromkeys(("d", "daily"), Freq("day")),
              **dict.fromkeys(("b", "bday", "trading-day", "business-day"), Freq("bday")),
              "step": Freq("step"), "hourly": Freq("us", HOUR), "half-hourly": Freq("us", HOUR // 2)}
DURATION = re.compile(r"(\d*)(h|min|s)")


def parse_freq(text: str) -> Freq:
    """`freq` as a user writes it: step, Y, Q, M, W, D, B (trading days), or a duration
    for date-times (1h, 30min, 15min, 10s). ConfigError otherwise."""
    key = text.strip().lower()
    if key in FREQ_NAMES:
        return FREQ_NAMES[key]
    if (match := DURATION.fullmatch(key)) and match.group(1) != "0":
        seconds = int(match.group(1) or 1) * {"h": 3600, "min": 60, "s": 1}[match.group(2)]
        return Freq("us", seconds * US_PER_SECOND)
    raise ConfigError(f"freq {text!r} is not one of step, Y, Q, M, W, D, B or a duration such "
                      "as 1h, 30min, 10s")


# ---- the future and formatting ----------------------------------------------------------

def advance(position: int, freq: Freq, steps: int) -> list[int]:
    """The `steps` positions after `position`."""
    if freq.unit != "bday":
        return [position + freq.step * k for k in range(1, steps + 1)]
    out, day = [], position
    while len(out) < steps:
        day += 1
        if date.fromordinal(day).weekday() < 5:
            out.append(day)
    return out


def format_position(position: int, fmt: TimeFormat) -> str:
    """A position written in `fmt` (the inverse of parse_position)."""
    kind = fmt.kind
    if kind == "int":
        return str(position)
    year, month0 = divmod(position, 12)
    if kind == "year":
        return f"{year:04d}"
    if kind == "quarter":
        return f"{year:04d}{fmt.sep}Q{month0 // 3 + 1}"
    if kind == "month":
        return f"{year:04d}-{month0 + 1:02d}"
    if kind == "date" and fmt.anchor:
        day = calendar.monthrange(year, month0 + 1)[1] if fmt.anchor == MONTH_END else fmt.anchor
        return date(year, month0 + 1, day).isoformat()
    if kind == "date":
        return date.fromordinal(position).isoformat()
    moment = EPOCH + timedelta(microseconds=position)
    text = moment.strftime(f"%Y-%m-%d{fmt.sep}%H:%M")
    if fmt.precision >= 2:
        text += moment.strftime(":%S")
    if fmt.precision > 2:
        text += "." + f"{moment.microsecond:06d}"[:fmt.precision - 3]
    return text + fmt.suffix
