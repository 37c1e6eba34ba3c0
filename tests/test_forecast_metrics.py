"""Forecast metrics against hand-computed values, and the baselines (naive, seasonal, ETS)."""

from __future__ import annotations

import math
import warnings

import pytest

from rnncli.baselines import (ets, ets_configurations, forecast_baseline, naive,
                              seasonal_naive)
from rnncli.metrics.forecast import (coverage, forecast_report, mae, mase, mase_scale,
                                     pinball_loss, rmse, score_series, smape)

INSAMPLE = [1, 3, 2, 5, 4, 6]
ACTUAL = [7, 5]
FORECAST = [6, 7]
QUANTILES = (0.1, 0.5, 0.9)
ROWS = [[5, 6, 8], [4, 7, 9]]


def test_mae_rmse_by_hand():
    assert mae(ACTUAL, FORECAST) == pytest.approx(1.5)            # (1 + 2) / 2
    assert rmse(ACTUAL, FORECAST) == pytest.approx(math.sqrt(2.5))  # sqrt((1 + 4) / 2)


def test_mase_scales_by_the_in_sample_seasonal_naive_error():
    # lag 2: |2-1| |5-3| |4-2| |6-5| -> 6 / 4 = 1.5; lag 1: 2 1 3 1 2 -> 9 / 5 = 1.8
    assert mase_scale(INSAMPLE, 2) == pytest.approx(1.5)
    assert mase(ACTUAL, FORECAST, INSAMPLE, 2) == pytest.approx(1.0)
    assert mase(ACTUAL, FORECAST, INSAMPLE, 1) == pytest.approx(1.5 / 1.8)
    assert mase_scale([1, 2], 12) == pytest.approx(1.0)  # shorter than a season: lag 1
    assert math.isnan(mase_scale([3, 3, 3], 1))          # no scale at all


def test_smape_is_the_m4_definition_on_a_0_to_200_scale():
    # 200 / 2 * (1 / 13 + 2 / 12)
    assert smape(ACTUAL, FORECAST) == pytest.approx(100 * (1 / 13 + 1 / 6))
    assert smape([0.0, 1.0], [0.0, -1.0]) == pytest.approx(100.0)  # 0/0 counts 0; opposite signs 200
    assert smape([1.0], [3.0]) == pytest.approx(100.0)


def test_pinball_loss_by_hand():
    # y=7: 0.1*2, 0.5*1, 0.1*1 -> 0.8;  y=5: 0.1*1, 0.5*2, 0.1*4 -> 1.5;  2.3 / 6
    assert pinball_loss(ACTUAL, ROWS, QUANTILES) == pytest.approx(2.3 / 6)
    assert pinball_loss([3.0], [[3.0, 3.0, 3.0]], QUANTILES) == 0.0


def test_coverage_counts_points_inside_both_ends_included():
    assert coverage([1, 5, 9, 2], [0, 5, 0, 3], [2, 6, 8, 4]) == pytest.approx(0.5)


def test_score_series_and_the_report():
    scores = score_series(ACTUAL, FORECAST, INSAMPLE, 2, ROWS, QUANTILES)
    assert scores["mase"] == pytest.approx(1.0)
    assert scores["quantile_loss"] == pytest.approx(2.3 / 6)
    assert scores["scaled_quantile_loss"] == pytest.approx(2.3 / 6 / 1.5)
    assert scores["coverage_80"] == 1.0
    other = score_series([7, 5, 0], [7, 5, 3], INSAMPLE, 2, [[8, 9, 10]] * 3, QUANTILES)
    assert other["coverage_80"] == 0.0
    report = forecast_report({"a": scores, "b": other}, horizons={"a": 2, "b": 3})
    assert report["series"] == 2
    assert report["mase"] == pytest.approx((1.0 + (3 / 3) / 1.5) / 2)
    assert report["coverage_80"] == pytest.approx(2 / 5)  # pooled over the 5 points
    assert set(report["per_series"]) == {"a", "b"}


def test_naive_and_seasonal_naive_forecasts_and_intervals():
    forecast = naive([1, 2, 4], 2, QUANTILES)
    assert forecast.point == (4.0, 4.0)
    sigma = math.sqrt((1 + 4) / 2)
    assert forecast.quantile_forecasts[1][2] == pytest.approx(4 + 1.2815516 * sigma * math.sqrt(2))
    assert forecast.quantile_forecasts[0][1] == 4.0
    seasonal = seasonal_naive([1, 2, 3, 4, 5], 3, 2, QUANTILES)
    assert seasonal.point == (4.0, 5.0, 4.0)
    short = seasonal_naive([1, 2], 2, 12)
    assert short.point == (2.0, 2.0) and "naive" in short.note


def seasonal_series(n: int) -> list[float]:
    return [100 + 0.5 * t + 10 * math.sin(2 * math.pi * t / 12) + (t * 7919 % 13 - 6) * 0.3
            for t in range(n)]


def test_ets_picks_a_seasonal_model_and_forecasts_close_with_monotone_quantiles():
    y = seasonal_series(72)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # statsmodels' warnings must not leak out
        forecast = ets(y, 12, 12, QUANTILES)
    assert forecast.method.startswith("ETS(") and forecast.method.endswith(("A)", "M)"))
    truth = seasonal_series(84)[72:]
    assert mae(truth, forecast.point) < 2.0
    for row in forecast.quantile_forecasts:
        assert row[0] <= row[1] <= row[2] and all(math.isfinite(v) for v in row)
    assert mase(truth, forecast.point, y, 12) < 0.5


def test_ets_configurations_respect_sign_and_season_count():
    positive = ets_configurations([1.0] * 30, 12)
    assert len(positive) == 2 * 3 * 3 and any(c["seasonal"] == "mul" for c in positive)
    negative = ets_configurations([-1.0] + [1.0] * 29, 12)
    assert {c["error"] for c in negative} == {"add"} and all(c["seasonal"] != "mul" for c in negative)
    assert all(c["seasonal"] is None for c in ets_configurations([1.0] * 20, 12))  # < 2 seasons


def test_ets_falls_back_on_constant_or_tiny_series():
    constant = ets([5.0] * 20, 3, 1)
    assert constant.point == (5.0, 5.0, 5.0) and "naive" in constant.note
    assert forecast_baseline("ets", [1.0, 2.0], 2).note
    with pytest.raises(ValueError, match="unknown baseline"):
        forecast_baseline("arima", [1.0], 1)
