"""Forecasting end to end through the real CLI: train -> forecast -> eval, timestamps that
continue the input's form, bad input with file and line, the backtest and the file scorer
against hand-computed figures, plots, exact resume, and a seasonal series learnt well."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from conftest import DATA, run_subprocess

TINY = ["--hidden", "8", "--epochs", "1", "--steps-per-epoch", "8", "--batch-size", "16", "--quiet"]
MONTHLY = DATA / "forecast" / "monthly.csv"


@pytest.fixture(scope="module")
def monthly_model(tmp_path_factory):
    from rnncli.cli.app import run

    out = tmp_path_factory.mktemp("fc") / "monthly"
    assert run(["train", "forecast", "--train", str(MONTHLY), "--out", str(out), "--horizon", "6", *TINY], False) == 0
    return out


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# ---- train -> forecast -> eval ---------------------------------------------------------------
def test_forecast_continues_every_series_in_the_inputs_form(cli, monthly_model):
    result = cli("forecast", monthly_model, MONTHLY)
    assert result.code == 0, result.err
    table = rows(result.out)
    assert list(table[0]) == ["series", "timestamp", "forecast", "q0.1", "q0.5", "q0.9"]
    assert [r["series"] for r in table] == ["visitors"] * 6 + ["sales"] * 6
    assert [r["timestamp"] for r in table[:6]] == ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05", "2023-06"]
    for r in table:
        low, mid, high = float(r["q0.1"]), float(r["q0.5"]), float(r["q0.9"])
        assert low <= mid <= high and float(r["forecast"]) == mid
    assert "2 missing value(s) filled by linear interpolation" in result.err


def test_forecast_jsonl_horizon_and_output_file(cli, monthly_model, tmp_path):
    result = cli("forecast", monthly_model, MONTHLY, "--horizon", "2", "--output-format", "jsonl")
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert [(r["series"], r["timestamp"]) for r in lines] == [("visitors", "2023-01"), ("visitors", "2023-02"),
                                                              ("sales", "2023-01"), ("sales", "2023-02")]
    out = tmp_path / "f.csv"
    assert cli("forecast", monthly_model, MONTHLY, "--horizon", "2", "-o", out).code == 0
    assert rows(out.read_text()) == rows(cli("forecast", monthly_model, MONTHLY, "--horizon", "2").out)


def test_horizon_beyond_the_model_is_refused(cli, monthly_model):
    result = cli("forecast", monthly_model, MONTHLY, "--horizon", "7")
    assert result.code == 2 and "--horizon 7: this model forecasts 1 to 6 steps" in result.err


def test_forecast_of_other_frequency_is_refused(cli, monthly_model):
    result = cli("forecast", monthly_model, DATA / "forecast" / "quarterly_long.csv")
    assert result.code == 2


@pytest.mark.parametrize("name, extra, expected", [
    ("quarterly_long.csv", ["--id-column", "store"], ["2020-Q1", "2020-Q2"]),
    ("yearly.jsonl", [], ["2021", "2022"]),
    ("halfhourly.tsv", ["--covariates", "temperature"], ["2021-03-15T00:00", "2021-03-15T00:30"]),
    ("trading_days.csv", [], None),
])
def test_output_timestamps_continue_each_input_format(cli, tmp_path, name, extra, expected):
    path = DATA / "forecast" / name
    out = tmp_path / "m"
    horizon = ["--horizon", "2", "--context", "8"]
    assert cli("train", "forecast", "--train", path, "--out", out, *horizon, *extra, *TINY).code == 0
    result = cli("forecast", out, path)
    assert result.code == 0, result.err
    stamps = [r["timestamp"] for r in rows(result.out)][:2]
    if expected is None:   # trading days: the next two weekdays after the last date
        from datetime import date, timedelta

        last = date.fromisoformat(path.read_text().strip().splitlines()[-1].split(",")[0])
        days = [last + timedelta(days=k) for k in range(1, 8)]
        expected = [d.isoformat() for d in days if d.weekday() < 5][:2]
    assert stamps == expected


def test_stdin_input(monthly_model):
    result = run_subprocess("forecast", monthly_model, "-", "--horizon", "1", input=MONTHLY.read_text())
    assert result.code == 0, result.err
    assert [r["timestamp"] for r in rows(result.out)] == ["2023-01", "2023-01"]


# ---- bad input -------------------------------------------------------------------------------
def series_file(tmp_path, stamps, values=None, name="s.csv"):
    values = values or [str(10 + (i % 4) * 3 + i * 0.1) for i in range(len(stamps))]
    return write(tmp_path / name, "date,y\n" + "".join(f"{t},{v}\n" for t, v in zip(stamps, values)))


def months(n, start=2000):
    return [f"{start + i // 12}-{i % 12 + 1:02d}" for i in range(n)]


@pytest.mark.parametrize("edit, message", [
    (lambda s: s[:10] + [s[9]] + s[10:], "line 12"),                 # a duplicated month
    (lambda s: s[:10] + s[11:], "line 12"),                          # a gap: seen on the row after it
    (lambda s: s[:10] + [s[11], s[10]] + s[12:], "line 13"),          # out of order
])
def test_duplicated_missing_or_unordered_timestamps_name_the_line(cli, tmp_path, edit, message):
    path = series_file(tmp_path, edit(months(60)))
    result = cli("train", "forecast", "--train", path, "--out", tmp_path / "m", *TINY)
    assert result.code == 2
    assert f"{path}:{message.split()[-1]}:" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "m").exists()


def test_non_numeric_value_names_file_line_and_column(cli, tmp_path):
    values = [str(i) for i in range(60)]
    values[20] = "n/a?"
    path = series_file(tmp_path, months(60), values)
    result = cli("train", "forecast", "--train", path, "--out", tmp_path / "m", *TINY)
    assert result.code == 2 and f"{path}:22:" in result.err and "'y'" in result.err


def test_too_short_series_names_the_series_and_the_minimum(cli, tmp_path):
    path = series_file(tmp_path, months(20))
    result = cli("train", "forecast", "--train", path, "--out", tmp_path / "m", "--horizon", "6",
                 "--context", "12", *TINY)
    assert result.code == 2
    assert "series 'y' has 20 values; at least 24 are needed" in result.err


def test_missing_values_refused_on_request(cli, tmp_path):
    result = cli("train", "forecast", "--train", MONTHLY, "--out", tmp_path / "m", "--missing", "error", *TINY)
    assert result.code == 2 and f"{MONTHLY}:32:" in result.err


def test_quantiles_must_hold_the_median(cli, tmp_path):
    result = cli("train", "forecast", "--train", MONTHLY, "--out", tmp_path / "m", "--quantiles", "0.1,0.9")
    assert result.code == 2 and "must include 0.5" in result.err


# ---- eval: the backtest and the file scorer -------------------------------------------------
def test_backtest_reports_model_and_baselines_on_the_same_windows(cli, monthly_model):
    result = cli("eval", monthly_model, MONTHLY, "--folds", "2", "--horizon", "3", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert (report["series"], report["folds"], report["horizon"], report["points"]) == (2, 2, 3, 12)
    assert set(report["baselines"]) == {"naive", "seasonal_naive", "ets"}
    assert report["skill"] == pytest.approx(report["mase"] / report["baselines"]["seasonal_naive"]["mase"])
    assert set(report["per_series"]) == {"visitors", "sales"}
    for key in ("mae", "rmse", "mase", "smape", "quantile_loss", "coverage_80"):
        assert key in report
    text = cli("eval", monthly_model, MONTHLY, "--horizon", "3")
    assert "seasonal naive" in text.out and "ETS" in text.out and "skill" in text.out


def test_seasonal_naive_backtest_figures_equal_hand_computed_ones(cli, monthly_model):
    """The baseline column of the backtest, recomputed here from the definitions."""
    report = json.loads(cli("eval", monthly_model, MONTHLY, "--horizon", "3", "--json").out)
    values = [float(r["visitors"]) for r in rows(MONTHLY.read_text()) if r["visitors"]]
    # the reader interpolates the one empty visitors cell (line 32): recompute with it filled
    raw = [r["visitors"] for r in rows(MONTHLY.read_text())]
    gap = raw.index("")
    values = [float(v) if v else (float(raw[gap - 1]) + float(raw[gap + 1])) / 2 for v in raw]
    insample, actual = values[:-3], values[-3:]
    forecast = [insample[-12 + k] for k in range(3)]
    scale = sum(abs(insample[t] - insample[t - 12]) for t in range(12, len(insample))) / (len(insample) - 12)
    mase = sum(abs(a - f) for a, f in zip(actual, forecast)) / 3 / scale
    smape = 200 / 3 * sum(abs(a - f) / (abs(a) + abs(f)) for a, f in zip(actual, forecast))
    got = report["per_series"]["visitors"]["seasonal_naive"]
    assert got["mase"] == pytest.approx(mase, rel=1e-9) and got["smape"] == pytest.approx(smape, rel=1e-9)


def test_eval_pred_actual_golden(cli, tmp_path):
    values = [10.0, 12.0, 11.0, 13.0, 12.0, 14.0, 13.0, 15.0]
    actual = series_file(tmp_path, [str(2000 + i) for i in range(8)], [str(v) for v in values], "a.csv")
    pred = write(tmp_path / "p.csv", "series,timestamp,forecast,q0.1,q0.5,q0.9\n"
                                     "y,2006,13.5,12,13.5,14\n" "y,2007,14,13,14,16\n")
    result = cli("eval", "--pred", pred, "--actual", actual, "--json", "--no-baselines")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    scale = sum(abs(values[t] - values[t - 1]) for t in range(1, 6)) / 5          # yearly: lag 1
    assert report["mase"] == pytest.approx((0.5 + 1.0) / 2 / scale)
    assert report["smape"] == pytest.approx(100 * (0.5 / 26.5 + 1.0 / 29))
    pinball = [max(q * (y - f), (q - 1) * (y - f)) for y, fs in ((13, (12, 13.5, 14)), (15, (13, 14, 16)))
               for q, f in zip((0.1, 0.5, 0.9), fs)]
    assert report["quantile_loss"] == pytest.approx(sum(pinball) / len(pinball))
    assert report["coverage_80"] == 1.0
    gate = cli("eval", "--pred", pred, "--actual", actual, "--no-baselines", "--fail-over", "mase=0.1")
    assert gate.code == 3 and "mase" in gate.err
    assert cli("eval", "--pred", pred, "--actual", actual, "--no-baselines", "--fail-under", "coverage_80=0.9").code == 0


def test_a_figure_that_does_not_exist_is_null_in_strict_json(cli, tmp_path):
    """A constant history has no naive error to scale MASE by: the JSON says null, not NaN
    (which strict parsers reject)."""
    actual = series_file(tmp_path, [str(2000 + i) for i in range(8)], ["5"] * 6 + ["6", "7"], "flat.csv")
    pred = write(tmp_path / "p.csv", "series,timestamp,forecast,q0.1,q0.5,q0.9\n"
                                     "y,2006,5,4,5,6\n" "y,2007,5,4,5,6\n")
    result = cli("eval", "--pred", pred, "--actual", actual, "--json", "--no-baselines")
    assert result.code == 0, result.err
    assert "NaN" not in result.out
    report = json.loads(result.out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert report["mase"] is None and report["smape"] > 0


def test_eval_pred_with_a_timestamp_outside_the_series(cli, tmp_path):
    actual = series_file(tmp_path, [str(2000 + i) for i in range(8)], name="a.csv")
    pred = write(tmp_path / "p.csv", "series,timestamp,forecast\ny,2006,1\ny,2012,1\n")
    result = cli("eval", "--pred", pred, "--actual", actual)
    assert result.code == 2 and f"{pred}:3: timestamp '2012'" in result.err


# ---- plots, API, resume, learning ------------------------------------------------------------
def test_plots_go_to_stderr_and_png(cli, monthly_model, tmp_path):
    image = tmp_path / "f.png"
    plain = cli("forecast", monthly_model, MONTHLY)
    result = cli("forecast", monthly_model, MONTHLY, "--plot", "--plot-out", image)
    assert result.code == 0 and result.out == plain.out          # stdout stays the forecast
    assert "visitors" in result.err and "80% interval" in result.err
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli("forecast", monthly_model, MONTHLY, "--plot-out", tmp_path / "f.jpg").code == 2


def test_python_api_and_info(monthly_model):
    import rnncli

    forecaster = rnncli.load(monthly_model)
    first = forecaster.forecast(MONTHLY, horizon=3)[0]
    assert (first.series, first.timestamps) == ("visitors", ["2023-01", "2023-02", "2023-03"])
    assert first.point == first.quantiles[0.5] and len(first.quantiles[0.9]) == 3
    info = rnncli.info(monthly_model)
    assert info["series"]["names"] == ["visitors", "sales"] and info["series"]["horizon"] == 6


def test_resume_is_exact(cli, tmp_path):
    from safetensors.torch import load_file

    args = ["--train", MONTHLY, "--horizon", "3", "--hidden", "8", "--steps-per-epoch", "5", "--batch-size", "8",
            "--quiet"]
    assert cli("train", "forecast", *args, "--out", tmp_path / "a", "--epochs", "2").code == 0
    assert cli("train", "forecast", *args, "--out", tmp_path / "b", "--epochs", "1").code == 0
    assert cli("train", "forecast", *args, "--out", tmp_path / "b", "--epochs", "2", "--resume").code == 0
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)


def test_a_seasonal_series_is_learnt(cli, tmp_path):
    """A seasonal series whose season grows with its level (multiplicative): the seasonal
    naive forecast with drift, the network's starting point, is off by the season's
    growth, so a low backtest error means the network learnt the pattern."""
    n = 144
    truth = [(50 + 0.5 * t) * (1 + 0.3 * math.sin(2 * math.pi * t / 12)) for t in range(n)]
    path = series_file(tmp_path, months(n), [f"{v:.4f}" for v in truth])
    out = tmp_path / "m"
    assert cli("train", "forecast", "--train", path, "--out", out, "--horizon", "6", "--hidden", "32",
               "--epochs", "4", "--quiet").code == 0
    report = json.loads(cli("eval", out, path, "--json", "--folds", "2").out)
    assert report["mase"] < 0.5 * report["baselines"]["seasonal_naive"]["mase"], report
    assert report["mae"] < 0.02 * sum(truth[-12:]) / 12, report     # within 2% of the level


def test_an_ensemble_averages_its_members(cli, tmp_path):
    import torch

    import rnncli

    out = tmp_path / "ens"
    assert cli("train", "forecast", "--train", MONTHLY, "--out", out, "--horizon", "3", "--ensemble", "2",
               *TINY).code == 0
    forecaster = rnncli.load(out, device="cpu")
    model = forecaster.model
    assert len(model.members) == 2
    from rnncli.core.windows import last_windows
    from rnncli.tasks.forecast_data import series_tensors

    series = forecaster.read(MONTHLY).series
    batch = last_windows([series_tensors(s, forecaster.features, i + 1, 3) for i, s in enumerate(series)],
                         forecaster.context, 3)
    with torch.no_grad():
        model.eval()
        each = torch.stack([member(batch) for member in model.members])
        assert not torch.equal(each[0], each[1])                 # initialised apart
        assert torch.allclose(model.raw_quantiles(batch), each.mean(0))
