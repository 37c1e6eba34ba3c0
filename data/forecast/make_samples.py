"""Writes the forecasting samples: small synthetic series in each layout and timestamp form.

Everything here is generated (no data copied from anywhere), deterministic for a seed:
    python data/forecast/make_samples.py

    monthly.csv          wide, YYYY-MM, two series with trend and a yearly season (two
                         values left empty, to be interpolated)
    quarterly_long.csv   long layout (store, quarter, sales), YYYY-Qn, three stores
    halfhourly.tsv       TSV, ISO date-times, demand with daily and weekly cycles and a
                         temperature covariate
    trading_days.csv     a price on weekdays only, a few holidays absent (trading days)
    yearly.jsonl         JSONL, plain years
"""

from __future__ import annotations

import json
import math
import random
from datetime import date, datetime, timedelta
from pathlib import Path

HOLIDAYS = {(1, 1), (12, 25), (12, 26), (5, 1)}


def monthly(rng: random.Random) -> str:
    rows = ["month,visitors,sales"]
    for t in range(132):
        year, month = 2012 + t // 12, t % 12 + 1
        season = math.sin(2 * math.pi * (month - 1) / 12)
        visitors = 200 + 1.5 * t + 40 * season + rng.gauss(0, 6)
        sales = 50 * (1 + 0.004 * t) * (1 + 0.25 * math.cos(2 * math.pi * (month - 1) / 12)) + rng.gauss(0, 2)
        cells = [f"{visitors:.1f}", f"{sales:.2f}"]
        if t in (30, 77):
            cells[t % 2] = ""  # a missing value inside the series
        rows.append(f"{year}-{month:02d}," + ",".join(cells))
    return "\n".join(rows) + "\n"


def quarterly_long(rng: random.Random) -> str:
    rows = ["store,quarter,sales"]
    for store, base in (("north", 120.0), ("south", 80.0), ("east", 300.0)):
        level = base
        for t in range(40):
            level *= 1 + rng.gauss(0.01, 0.01)
            season = (0.9, 1.0, 1.05, 1.2)[t % 4]
            rows.append(f"{store},{2010 + t // 4}-Q{t % 4 + 1},{level * season:.1f}")
    return "\n".join(rows) + "\n"


def halfhourly(rng: random.Random) -> str:
    rows = ["time\tdemand\ttemperature"]
    start = datetime(2021, 3, 1)
    for t in range(14 * 48):
        moment = start + timedelta(minutes=30 * t)
        hour = moment.hour + moment.minute / 60
        daily = math.sin(2 * math.pi * (hour - 7) / 24) + 0.4 * math.sin(4 * math.pi * (hour - 7) / 24)
        weekend = 0.85 if moment.weekday() >= 5 else 1.0
        temperature = 8 + 5 * math.sin(2 * math.pi * (hour - 9) / 24) + rng.gauss(0, 0.5)
        demand = weekend * (1000 + 250 * daily) - 6 * temperature + rng.gauss(0, 15)
        rows.append(f"{moment.isoformat(timespec='minutes')}\t{demand:.0f}\t{temperature:.1f}")
    return "\n".join(rows) + "\n"


def trading_days(rng: random.Random) -> str:
    rows = ["date,close"]
    day, price = date(2022, 11, 1), 50.0
    while len(rows) <= 300:
        if day.weekday() < 5 and (day.month, day.day) not in HOLIDAYS:
            price *= math.exp(rng.gauss(0.0004, 0.015))
            rows.append(f"{day.isoformat()},{price:.2f}")
        day += timedelta(days=1)
    return "\n".join(rows) + "\n"


def yearly(rng: random.Random) -> str:
    lines, value = [], 1000.0
    for year in range(1980, 2021):
        value *= 1 + rng.gauss(0.02, 0.03)
        lines.append(json.dumps({"year": year, "output": round(value, 1)}))
    return "\n".join(lines) + "\n"


def main() -> None:
    here = Path(__file__).resolve().parent
    rng = random.Random(1)
    for name, make in (("monthly.csv", monthly), ("quarterly_long.csv", quarterly_long),
                       ("halfhourly.tsv", halfhourly), ("trading_days.csv", trading_days),
                       ("yearly.jsonl", yearly)):
        (here / name).write_text(make(rng), encoding="utf-8")


if __name__ == "__main__":
    main()
