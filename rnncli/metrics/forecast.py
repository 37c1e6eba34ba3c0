"""Forecast scores: MAE, RMSE, MASE, sMAPE, pinball (quantile) loss, interval coverage.

Definitions follow the M4 competition (Makridakis et al., 2020), for a series with
in-sample values y_1..y_n, seasonal period m, held-out values Y_1..Y_h and forecasts F:

    MASE   = mean_t |Y_t - F_t|  /  ( 1/(n-m) * sum_{t=m+1..n} |y_t - y_{t-m}| )
             (the in-sample seasonal naive error; m = 1 for non-seasonal data. A series no
             longer than m is scaled by its lag-1 error instead, as no seasonal difference
             exists; a constant in-sample series has no scale and its MASE is nan)
    sMAPE  = 200/h * sum_t |Y_t - F_t| / (|Y_t| + |F_t|)      (0..200; a 0/0 term counts 0)
    pinball loss for quantile q: rho_q(u) = max(q u, (q - 1) u), u = Y - F_q, averaged over
             steps and quantiles; `scaled_quantile_loss` divides it by the MASE scale so
             series of any magnitude can be averaged.
    coverage = share of Y inside [F_lo, F_hi] (both ends included) for the outer quantiles
             of the interval, e.g. 0.1 and 0.9 for the 80% interval.

Overall figures are means over series (the M4 convention: every series weighs the same),
skipping nan; coverage overall is over all held-out points.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

Vector = Sequence[float]


def check_lengths(actual: Vector, forecast: Vector) -> None:
    if len(actual) != len(forecast):
        raise ValueError(f"{len(actual)} actual values but {len(forecast)} forecasts")
    if not actual:
        raise ValueError("no values to score")


def mae(actual: Vector, forecast: Vector) -> float:
    check_lengths(actual, forecast)
    return sum(abs(a - f) for a, f in zip(actual, forecast)) / len(actual)


def rmse(actual: Vector, forecast: Vector) -> float:
    check_lengths(actual, forecast)
    return math.sqrt(sum((a - f) ** 2 for a, f in zip(actual, forecast)) / len(actual))


def mase_scale(insample: Vector, period: int = 1) -> float:
    """The in-sample mean absolute seasonal difference (lag `period`); nan if it is 0."""
    lag = period if len(insample) > period else 1
    if len(insample) <= lag:
        return math.nan
    scale = sum(abs(insample[t] - insample[t - lag]) for t in range(lag, len(insample)))
    scale /= len(insample) - lag
    return scale if scale > 0 else math.nan


def mase(actual: Vector, forecast: Vector, insample: Vector, period: int = 1) -> float:
    return mae(actual, forecast) / mase_scale(insample, period)


def smape(actual: Vector, forecast: Vector) -> float:
    check_lengths(actual, forecast)
    total = 0.0
    for a, f in zip(actual, forecast):
        denominator = abs(a) + abs(f)
        total += abs(a - f) / denominator if denominator else 0.0
    return 200.0 * total / len(actual)


def pinball_loss(actual: Vector, quantile_forecasts: Sequence[Vector], quantiles: Vector) -> float:
    """Mean pinball loss; quantile_forecasts[t][j] is the forecast of quantile quantiles[j]."""
    check_lengths(actual, quantile_forecasts)
    total = 0.0
    for a, row in zip(actual, quantile_forecasts):
        if len(row) != len(quantiles):
            raise ValueError(f"{len(row)} quantile forecasts for {len(quantiles)} quantiles")
        for q, f in zip(quantiles, row):
            u = a - f
            total += max(q * u, (q - 1) * u)
    return total / (len(actual) * len(quantiles))


def coverage(actual: Vector, lower: Vector, upper: Vector) -> float:
    check_lengths(actual, lower)
    check_lengths(actual, upper)
    return sum(1 for a, lo, hi in zip(actual, lower, upper) if lo <= a <= hi) / len(actual)


def interval_columns(quantiles: Vector, interval: float) -> tuple[int, int] | None:
    """Indices of the quantiles bounding the central `interval` (0.8 -> 0.1 and 0.9)."""
    lo, hi = (1 - interval) / 2, (1 + interval) / 2
    found = [next((j for j, q in enumerate(quantiles) if abs(q - target) < 1e-9), None)
             for target in (lo, hi)]
    return None if None in found else (found[0], found[1])


def score_series(actual: Vector, forecast: Vector, insample: Vector, period: int = 1,
                 quantile_forecasts: Sequence[Vector] | None = None,
                 quantiles: Vector = (), interval: float = 0.8) -> dict[str, float]:
    """Every score of one series' forecast. Quantile scores need quantile_forecasts
    (steps x quantiles); coverage needs the interval's two quantiles among them."""
    scale = mase_scale(insample, period)
    error = mae(actual, forecast)
    scores = {"mae": error, "rmse": rmse(actual, forecast), "mase": error / scale,
              "smape": smape(actual, forecast)}
    if quantile_forecasts is not None:
        loss = pinball_loss(actual, quantile_forecasts, quantiles)
        scores["quantile_loss"] = loss
        scores["scaled_quantile_loss"] = loss / scale
        columns = interval_columns(quantiles, interval)
        if columns is not None:
            scores[f"coverage_{round(interval * 100)}"] = coverage(
                actual, [row[columns[0]] for row in quantile_forecasts],
                [row[columns[1]] for row in quantile_forecasts])
    return scores


def nanmean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def forecast_report(per_series: dict[str, dict[str, float]], horizons: dict[str, int] | None = None,
                    settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `rnncli eval --json` body: overall means over series, then each series' scores.

    horizons (points scored per series) weight coverage by points; without them every
    series weighs the same. `settings` (period, quantiles, interval ...) is reported as is.
    """
    names = sorted({key for scores in per_series.values() for key in scores})
    report: dict[str, Any] = {"series": len(per_series)}
    for key in names:
        values = [scores[key] for scores in per_series.values() if key in scores]
        if key.startswith("coverage_") and horizons:
            weights = [horizons[name] for name, s in per_series.items() if key in s]
            report[key] = sum(v * w for v, w in zip(values, weights)) / sum(weights)
        else:
            report[key] = nanmean(values)
    report["per_series"] = per_series
    if settings:
        report["settings"] = dict(settings)
    return report
