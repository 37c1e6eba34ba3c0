"""Seasons and calendar features of a frequency (rnncli.timestamps.Freq): the seasonal
period, the M4 horizon, sin/cos calendar features and season indices for a forecaster.

Imports only rnncli.timestamps and the standard library (no torch).
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Sequence

from rnncli.timestamps import EPOCH, US_PER_DAY, Freq


def seasonal_period(freq: Freq) -> int:
    """The main seasonal period in steps: monthly 12, quarterly 4, weekly 52, daily 7,
    trading-day 5, hourly 24, half-hourly 48 (the daily cycle; their weekly cycle is 168
    and 336, see weekly_period), yearly and plain steps 1."""
    if freq.unit == "us" and freq.step < US_PER_DAY:
        return US_PER_DAY // freq.step if US_PER_DAY % freq.step == 0 else 1
    return {"quarterly": 4, "monthly": 12, "weekly": 52, "daily": 7, "trading-day": 5}.get(freq.name, 1)


def weekly_period(freq: Freq) -> int | None:
    """The weekly cycle of sub-daily data in steps (half-hourly 336, hourly 168), else None."""
    if freq.unit == "us" and freq.step < US_PER_DAY and (7 * US_PER_DAY) % freq.step == 0:
        return 7 * US_PER_DAY // freq.step
    return None


def m4_horizon(freq: Freq) -> int:
    """The M4 competition's horizon: yearly 6, quarterly 8, monthly 18, weekly 13, daily 14,
    hourly (and other sub-daily) 48; other frequencies 8."""
    return {"yearly": 6, "quarterly": 8, "monthly": 18, "weekly": 13, "daily": 14,
            "hourly": 48}.get(freq.group, 8)


def calendar_names(freq: Freq) -> list[str]:
    """Names of the calendar features `calendar_features` gives for this frequency."""
    return [f"{cycle}_{part}" for cycle in calendar_cycles(freq) for part in ("sin", "cos")]


def calendar_cycles(freq: Freq) -> list[str]:
    if freq.unit == "us" and freq.step < US_PER_DAY:
        return ["hour_of_day", "day_of_week"]
    daily = ["day_of_week", "day_of_year"]
    return {"quarterly": ["quarter_of_year"], "monthly": ["month_of_year"], "weekly": ["week_of_year"],
            "daily": daily, "trading-day": daily}.get(freq.name, [])


def calendar_features(positions: Sequence[int], freq: Freq) -> list[list[float]]:
    """Per position, sin and cos of each calendar cycle (calendar_names): smooth inputs in
    [-1, 1] for which the end of a cycle is next to its start. Empty rows for plain steps."""
    cycles = calendar_cycles(freq)
    angles = [[2 * math.pi * cycle_fraction(p, freq, cycle) for cycle in cycles] for p in positions]
    return [[f(a) for a in row for f in (math.sin, math.cos)] for row in angles]


def cycle_fraction(position: int, freq: Freq, cycle: str) -> float:
    if cycle in ("month_of_year", "quarter_of_year"):
        return (position % 12) / 12
    moment = EPOCH + timedelta(microseconds=position) if freq.unit == "us" else date.fromordinal(position)
    if cycle == "day_of_week":
        return moment.weekday() / 7
    if cycle in ("day_of_year", "week_of_year"):
        return (moment.timetuple().tm_yday - 1) / 365.25
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
    return seconds / 86_400


def season_index(positions: Sequence[int], freq: Freq) -> list[int]:
    """Per position, its place in the main seasonal cycle, 0 .. seasonal_period - 1 (month of
    year, weekday, half-hour of day ...), for a season embedding. Weeks of year past 51
    (a 53rd week) count as 51."""
    period = seasonal_period(freq)
    if period == 1:
        return [0] * len(positions)
    if freq.unit == "month":
        return [(p % 12) // freq.step for p in positions]
    if freq.unit in ("day", "bday") and period in (5, 7):
        return [date.fromordinal(p).weekday() for p in positions]
    if freq.unit == "day":
        return [min(51, (date.fromordinal(p).timetuple().tm_yday - 1) // 7) for p in positions]
    if freq.step >= US_PER_DAY:
        return [(EPOCH + timedelta(microseconds=p)).weekday() for p in positions]
    return [(p % US_PER_DAY) // freq.step for p in positions]
