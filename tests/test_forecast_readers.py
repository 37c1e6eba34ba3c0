"""Time-series input: timestamp forms, frequency inference, strict errors, missing values."""

from __future__ import annotations

import io
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from rnncli.errors import ConfigError, DataError
from rnncli.readers.timeseries import read_series, require_length
from rnncli.seasons import (calendar_features, calendar_names, m4_horizon, season_index, seasonal_period,
                            weekly_period)
from rnncli.timestamps import Freq, parse_freq, parse_index

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "timeseries"


def index_of(values, freq=None):
    return parse_index(values, list(range(2, len(values) + 2)), "f.csv", freq)


@pytest.mark.parametrize("values, name, future", [
    (["1", "2", "3"], "step", ["4", "5"]),
    (["0", "5", "10"], "5-step", ["15", "20"]),
    (["1956", "1957", "1958"], "yearly", ["1959", "1960"]),
    (["1956-Q3", "1956-Q4", "1957-Q1"], "quarterly", ["1957-Q2", "1957-Q3"]),
    (["1956Q3", "1956Q4"], "quarterly", ["1957Q1", "1957Q2"]),
    (["1956 Q4", "1957 Q1"], "quarterly", ["1957 Q2", "1957 Q3"]),
    (["1949-11", "1949-12"], "monthly", ["1950-01", "1950-02"]),
    (["2020-02-27", "2020-02-28"], "daily", ["2020-02-29", "2020-03-01"]),
    (["2001-12-22", "2001-12-29"], "weekly", ["2002-01-05", "2002-01-12"]),
    (["2020-01-01", "2020-02-01", "2020-03-01"], "monthly", ["2020-04-01", "2020-05-01"]),
    (["2020-01-31", "2020-02-29", "2020-03-31"], "monthly", ["2020-04-30", "2020-05-31"]),
    (["2000-06-05T23:00", "2000-06-05T23:30"], "half-hourly", ["2000-06-06T00:00", "2000-06-06T00:30"]),
    (["2000-06-05 22:00:00", "2000-06-05 23:00:00"], "hourly", ["2000-06-06 00:00:00", "2000-06-06 01:00:00"]),
    (["2000-06-05T00:00:00.5Z", "2000-06-05T00:00:01.0Z"], "0.5s",
     ["2000-06-05T00:00:01.5Z", "2000-06-05T00:00:02.0Z"]),
    (["2000-06-05T00:00+01:00", "2000-06-05T00:15+01:00"], "15min",
     ["2000-06-05T00:30+01:00", "2000-06-05T00:45+01:00"]),
])
def test_every_form_is_parsed_inferred_and_continued_in_its_own_form(values, name, future):
    index = index_of(values)
    assert index.freq.name == name
    assert index.future_labels(2) == future


def weekdays(start: date, count: int, closed: set[date] = frozenset()) -> list[str]:
    out, day = [], start
    while len(out) < count:
        if day.weekday() < 5 and day not in closed:
            out.append(day.isoformat())
        day += timedelta(days=1)
    return out


def test_trading_days_count_rows_and_continue_on_weekdays():
    closed = {date(2001, 9, 11), date(2001, 9, 12), date(2001, 9, 13), date(2001, 9, 14),
              date(2001, 11, 22)}
    values = weekdays(date(2001, 8, 1), 100, closed)
    while date.fromisoformat(values[-1]).weekday() != 4:
        values.pop()
    index = index_of(values)
    assert index.freq == Freq("bday") and index.freq.group == "daily"
    assert seasonal_period(index.freq) == 5 and m4_horizon(index.freq) == 14
    last = date.fromisoformat(values[-1])
    assert last.weekday() == 4  # a Friday: the next steps are Monday and Tuesday
    assert index.future_labels(2) == [(last + timedelta(days=3)).isoformat(),
                                      (last + timedelta(days=4)).isoformat()]


@pytest.mark.skipif(not (SHARED / "msft_daily.csv").exists(), reason="shared data not present")
def test_the_shared_stock_prices_read_as_trading_days():
    series_set = read_series(SHARED / "msft_daily.csv", target=["open", "close"])
    assert series_set.freq.name == "trading-day"
    assert [s.name for s in series_set.series] == ["open", "close"]
    assert series_set.series[0].future_timestamps(1) == ["2017-11-13"]  # Friday -> Monday


def test_a_weekend_row_or_a_long_closure_in_trading_days_names_the_line():
    values = weekdays(date(2021, 3, 1), 30)
    with pytest.raises(DataError, match=r"f.csv:12: .*Saturday"):
        index_of(values[:10] + ["2021-03-13"] + values[10:], freq="B")
    with pytest.raises(DataError, match=r"f.csv:22: .*10 weekdays missing"):
        index_of(values[:20] + weekdays(date(2021, 4, 12), 5), freq="B")


@pytest.mark.parametrize("values, line, message", [
    (["2020-01", "2020-02", "2020-02", "2020-03"], 4, "duplicated timestamp '2020-02' \\(also on line 3\\)"),
    (["2020-01", "2020-03", "2020-02"], 4, "'2020-02' comes before '2020-03' on line 3"),
    (["2020-01", "2020-02", "2020-04", "2020-05"], 4, "irregular timestamps: '2020-04' \\(expected '2020-03'"),
    (["2020-01-01", "2020-01-02", "2020-01-04"], 4, "expected '2020-01-03'"),
    (["1", "2", "3", "5"], 5, "expected '4'"),
    (["2020-01", "2020-01-15"], 3, "not in the form of the first one \\(YYYY-MM\\)"),
    (["2020-Q5"], 2, "unrecognised timestamp"),
])
def test_duplicated_unordered_irregular_and_mixed_timestamps_name_the_line(values, line, message):
    with pytest.raises(DataError, match=f"^f.csv:{line}: .*{message}"):
        index_of(values)


def test_a_given_freq_is_checked_and_must_fit_the_form():
    assert index_of(["2020-01-06", "2020-01-13"], freq="W").freq.name == "weekly"
    with pytest.raises(DataError, match="f.csv:3: .*daily"):
        index_of(["2020-01-06", "2020-01-13"], freq="D")
    with pytest.raises(ConfigError, match="does not fit"):
        index_of(["2020-01", "2020-02"], freq="1h")
    with pytest.raises(ConfigError, match="freq 'fortnightly'"):
        parse_freq("fortnightly")
    assert parse_freq("30min") == Freq("us", 1800 * 10**6)


def test_seasonal_periods_by_frequency():
    periods = {"Y": 1, "Q": 4, "M": 12, "W": 52, "D": 7, "B": 5, "1h": 24, "30min": 48, "step": 1}
    assert {k: seasonal_period(parse_freq(k)) for k in periods} == periods
    assert weekly_period(parse_freq("30min")) == 336 and weekly_period(parse_freq("D")) is None


def test_calendar_features_and_season_indices():
    index = index_of(["2000-06-05T00:00", "2000-06-05T06:00", "2000-06-05T12:00"], freq="6h")
    assert calendar_names(index.freq) == ["hour_of_day_sin", "hour_of_day_cos", "day_of_week_sin",
                                          "day_of_week_cos"]
    rows = calendar_features(index.positions, index.freq)
    assert rows[1][0] == pytest.approx(1.0) and rows[2][1] == pytest.approx(-1.0)  # 06:00, 12:00
    assert rows[0][2:] == pytest.approx([0.0, 1.0])  # a Monday
    assert season_index(index.positions, index.freq) == [0, 1, 2]
    months = index_of(["1949-11", "1949-12", "1950-01"])
    assert season_index(months.positions, months.freq) == [10, 11, 0]
    assert calendar_features(index_of(["1", "2"]).positions, Freq("step")) == [[], []]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_wide_csv_with_missing_values_interpolated_counted_and_ends_trimmed(tmp_path):
    path = write(tmp_path, "w.csv", "month,a,b,temp\n2020-01,1,,5\n2020-02,,10,6\n2020-03,NaN,20,\n"
                                    "2020-04,4,30,8\n2020-05,,40,9\n")
    series_set = read_series(path, covariates=["temp"])
    a, b = series_set.series
    assert (a.name, a.values, a.filled, a.trimmed) == ("a", (1.0, 2.0, 3.0, 4.0), 2, 1)
    assert (b.values, b.timestamps, b.lines) == ((10.0, 20.0, 30.0, 40.0), ("2020-02", "2020-03", "2020-04",
                                                                            "2020-05"), (3, 4, 5, 6))
    assert a.covariates["temp"] == (5.0, 6.0, 7.0, 8.0)  # interpolated, sliced to a's rows
    assert series_set.filled == 2 + 0 and series_set.trimmed == 2
    assert a.future_timestamps(1) == ["2020-05"] and b.future_timestamps(1) == ["2020-06"]


def test_missing_error_policy_and_bad_values_name_line_and_column(tmp_path):
    path = write(tmp_path, "w.csv", "t,v\n1,1\n2,\n3,3\n")
    with pytest.raises(DataError, match=r"w.csv:3: missing value in column 'v'"):
        read_series(path, missing="error")
    bad = write(tmp_path, "bad.csv", "t,v\n1,1\n2,1.5e\n")
    with pytest.raises(DataError, match=r"bad.csv:3: column 'v': '1.5e' is not a number"):
        read_series(bad, target="v")
    with pytest.raises(DataError, match=r"bad.csv:3: column 'v': 'inf'"):
        read_series(write(tmp_path, "bad.csv", "t,v\n1,1\n2,inf\n"), target="v")
    with pytest.raises(DataError, match=r"w.csv:1: no target column 'x'; the columns are 't', 'v'"):
        read_series(path, target="x")


def test_long_layout_interleaved_series_tsv_and_frequency_mismatch(tmp_path):
    path = write(tmp_path, "l.tsv", "id\tdate\tsales\nA\t2020-01\t1\nB\t2020-01\t10\nA\t2020-02\t2\n"
                                    "B\t2020-02\t20\nA\t2020-03\t3\n")
    series_set = read_series(path, id_column="id", time_column="date")
    assert [(s.name, s.values) for s in series_set.series] == [("A", (1.0, 2.0, 3.0)), ("B", (10.0, 20.0))]
    assert series_set.layout == "long" and series_set.freq.name == "monthly"
    mixed = write(tmp_path, "m.csv", "id,t,v\nA,2020-01-01,1\nA,2020-01-02,2\nB,2020-01-01,1\nB,2020-01-08,2\n")
    with pytest.raises(DataError, match=r"m.csv:4: series 'B' is weekly but series 'A' is daily"):
        read_series(mixed, id_column="id")
    dup = write(tmp_path, "d.csv", "id,t,v\nA,1,1\nB,1,1\nA,1,2\n")
    with pytest.raises(DataError, match=r"d.csv:4: duplicated timestamp '1' \(also on line 2\)"):
        read_series(dup, id_column="id")


def test_jsonl_and_stdin(tmp_path, monkeypatch):
    path = write(tmp_path, "s.jsonl", '{"ds": "2020-Q1", "y": 1}\n{"ds": "2020-Q2", "y": null}\n'
                                      '{"ds": "2020-Q3", "y": 3.5}\n')
    (series,) = read_series(path).series
    assert series.values == (1.0, 2.25, 3.5) and series.filled == 1
    assert series.future_timestamps(2) == ["2020-Q4", "2021-Q1"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"time\tv\n1\t5\n2\t6\n")))
    (piped,) = read_series("-").series
    assert piped.values == (5.0, 6.0) and piped.future_timestamps(1) == ["3"]


def test_a_series_too_short_names_itself_and_the_minimum(tmp_path):
    series_set = read_series(write(tmp_path, "s.csv", "t,short\n1,1\n2,2\n3,3\n"))
    require_length(series_set, context=2, horizon=1)
    with pytest.raises(DataError, match=r"s.csv:2: series 'short' has 3 values; at least 5 are "
                                        r"needed \(context 3 \+ horizon 2\)"):
        require_length(series_set, context=3, horizon=2)


def test_the_sample_files_read(tmp_path):
    samples = ROOT / "data" / "forecast"
    for path in sorted(samples.glob("*.*")):
        if path.suffix in (".csv", ".tsv", ".jsonl"):
            kwargs = {"id_column": "store"} if "long" in path.name else {}
            assert read_series(path, **kwargs).series
