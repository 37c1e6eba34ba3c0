"""Baseline forecasts every model is measured against: naive, seasonal naive and ETS.

    naive            every future value is the last one; the interval of a random walk,
                     sigma * sqrt(k) at step k, sigma the RMS of one-step differences.
    seasonal-naive   the value one season earlier; sigma_s * sqrt(ceil(k / m)), sigma_s the
                     RMS of lag-m differences (Hyndman & Athanasopoulos, FPP3 5.5).
    ets              exponential smoothing state-space models fitted by statsmodels'
                     ETSModel (never hand-written here): additive and, for positive data,
                     multiplicative errors; no, additive or damped additive trend; no,
                     additive or (positive data) multiplicative season, the season only when
                     the series holds at least two full seasons. The model with the lowest
                     AICc among those that converged wins (AICc compares only fits of the same
                     data and initialisation, which these all are); if none converged the best
                     of the rest; if every fit fails or forecasts non-finite or runaway
                     values, the next best, and naive when none is left. Intervals come from statsmodels
                     (analytic for additive models, simulated with a fixed seed otherwise).

Seasonal periods above MAX_ESTIMATED_SEASON (half-hourly 48, weekly 52) take heuristic
initial states: estimating 48 initial seasonal states by maximum likelihood takes 30
times longer and, on Taylor's half-hourly demand, lands on a worse likelihood.
statsmodels and numpy are imported inside the functions that need them.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

DEFAULT_QUANTILES = (0.1, 0.5, 0.9)
BASELINES = ("naive", "seasonal-naive", "ets")
MAX_ESTIMATED_SEASON = 24
RUNAWAY = 100.0  # a forecast this many times the series' largest magnitude is refused
SEED = 0


@dataclass(frozen=True)
class BaselineForecast:
    """Point forecasts (horizon,) and quantile forecasts (horizon x len(quantiles)) or None."""

    method: str
    point: tuple[float, ...]
    quantiles: tuple[float, ...] = ()
    quantile_forecasts: tuple[tuple[float, ...], ...] | None = None
    note: str = ""                       # why a fallback was taken, empty when none was


def forecast_baseline(method: str, values: Sequence[float], horizon: int, period: int = 1,
                      quantiles: Sequence[float] = DEFAULT_QUANTILES) -> BaselineForecast:
    """One of BASELINES by name."""
    if method == "naive":
        return naive(values, horizon, quantiles)
    if method == "seasonal-naive":
        return seasonal_naive(values, horizon, period, quantiles)
    if method == "ets":
        return ets(values, horizon, period, quantiles)
    raise ValueError(f"unknown baseline {method!r}; choose one of {', '.join(BASELINES)}")


def check_input(values: Sequence[float], horizon: int) -> list[float]:
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if not values:
        raise ValueError("no values to forecast from")
    return [float(v) for v in values]


def normal_quantiles(point: Sequence[float], sigmas: Sequence[float],
                     quantiles: Sequence[float]) -> tuple[tuple[float, ...], ...]:
    z = [NormalDist().inv_cdf(q) for q in quantiles]
    return tuple(tuple(p + s * zq for zq in z) for p, s in zip(point, sigmas))


def rms_difference(values: list[float], lag: int) -> float:
    diffs = [values[t] - values[t - lag] for t in range(lag, len(values))]
    return math.sqrt(sum(d * d for d in diffs) / len(diffs)) if diffs else 0.0


def naive(values: Sequence[float], horizon: int,
          quantiles: Sequence[float] = DEFAULT_QUANTILES) -> BaselineForecast:
    y = check_input(values, horizon)
    point = (y[-1],) * horizon
    sigma = rms_difference(y, 1)
    sigmas = [sigma * math.sqrt(k) for k in range(1, horizon + 1)]
    return BaselineForecast("naive", point, tuple(quantiles), normal_quantiles(point, sigmas, quantiles))


def seasonal_naive(values: Sequence[float], horizon: int, period: int,
                   quantiles: Sequence[float] = DEFAULT_QUANTILES) -> BaselineForecast:
    """The last season repeated; a series shorter than one season falls back to naive."""
    y = check_input(values, horizon)
    if period <= 1 or len(y) < period:
        fallback = naive(y, horizon, quantiles)
        note = "" if period <= 1 else f"shorter than one season ({period}); naive"
        return BaselineForecast("seasonal-naive", fallback.point, fallback.quantiles,
                                fallback.quantile_forecasts, note)
    last = y[-period:]
    point = tuple(last[k % period] for k in range(horizon))
    sigma = rms_difference(y, period)
    sigmas = [sigma * math.sqrt(k // period + 1) for k in range(horizon)]
    return BaselineForecast("seasonal-naive", point, tuple(quantiles),
                            normal_quantiles(point, sigmas, quantiles))


def ets_configurations(values: Sequence[float], period: int) -> list[dict]:
    """The ETSModel settings tried for a series (see the module docstring)."""
    positive = min(values) > 0
    errors = ("add", "mul") if positive else ("add",)
    seasons: tuple = (None,)
    if period > 1 and len(values) >= 2 * period:
        seasons = (None, "add", "mul") if positive else (None, "add")
    configs = []
    for error in errors:
        for trend, damped in ((None, False), ("add", False), ("add", True)):
            for season in seasons:
                configs.append(dict(error=error, trend=trend, damped_trend=damped, seasonal=season,
                                    seasonal_periods=period if season else None))
    return configs


def ets_name(config: dict) -> str:
    letter = {None: "N", "add": "A", "mul": "M"}
    trend = letter[config["trend"]] + ("d" if config["damped_trend"] else "")
    return f"ETS({letter[config['error']]},{trend},{letter[config['seasonal']]})"


def ets(values: Sequence[float], horizon: int, period: int = 1,
        quantiles: Sequence[float] = DEFAULT_QUANTILES) -> BaselineForecast:
    """The best ETS model by AICc (see the module docstring), with quantile forecasts."""
    y = check_input(values, horizon)
    if len(y) < 4 or max(y) == min(y):
        fallback = naive(y, horizon, quantiles)
        return BaselineForecast("ets", fallback.point, fallback.quantiles,
                                fallback.quantile_forecasts, "too short or constant for ETS; naive")
    fits = []
    for config in ets_configurations(y, period):
        fit = fit_ets(y, config, period)
        if fit is not None:
            fits.append((not fit[1], fit[0], ets_name(config), config, fit[2]))
    limit = RUNAWAY * max(abs(v) for v in y)
    ranked = sorted(fits, key=lambda f: (f[0], f[1]))  # converged first, then by AICc
    for rank, (unconverged, _, name, _, result) in enumerate(ranked):
        forecast = ets_forecast(result, len(y), horizon, quantiles, limit)
        if forecast is not None:
            note = "no fit converged; " if unconverged else ""
            if rank:
                note += f"{rank} better fit(s) forecast non-finite or runaway values"
            return BaselineForecast(name, forecast[0], tuple(quantiles), forecast[1], note.strip("; "))
    fallback = naive(y, horizon, quantiles)
    return BaselineForecast("naive", fallback.point, fallback.quantiles, fallback.quantile_forecasts,
                            "every ETS fit failed; naive")


def fit_ets(y: list[float], config: dict, period: int):
    """(AICc, converged, results) of one ETSModel fit, or None when it fails."""
    import numpy as np
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    init = "heuristic" if config["seasonal"] and period > MAX_ESTIMATED_SEASON else "estimated"
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # convergence and overflow chatter; checked below
        try:
            # a pandas Series: statsmodels' prediction results index their rows with it
            model = ETSModel(pd.Series(y), initialization_method=init, **config)
            result = model.fit(disp=False)
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, OverflowError):
            return None
    aicc = float(result.aicc)
    if not math.isfinite(aicc):
        return None
    retvals = result.mle_retvals if isinstance(result.mle_retvals, dict) else {}
    return aicc, bool(retvals.get("converged", True)), result


def ets_forecast(result, n: int, horizon: int, quantiles: Sequence[float], limit: float):
    """(point, quantile rows) from a fitted ETS model, or None if any value is non-finite
    or runs away past `limit`."""
    import numpy as np

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            prediction = result.get_prediction(start=n, end=n + horizon - 1,
                                               rng=np.random.default_rng(SEED))
            point = np.asarray(prediction.predicted_mean, dtype=float)
            columns = []
            for q in quantiles:
                if abs(q - 0.5) < 1e-12:
                    columns.append(point)
                else:
                    bounds = np.asarray(prediction.pred_int(alpha=2 * min(q, 1 - q)), dtype=float)
                    columns.append(bounds[:, 0] if q < 0.5 else bounds[:, 1])
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError, OverflowError):
            return None
    table = np.sort(np.stack(columns, axis=1), axis=1) if columns else np.zeros((horizon, 0))
    if not (np.isfinite(point).all() and np.isfinite(table).all()):
        return None
    if np.abs(point).max() > limit:
        return None
    return tuple(point.tolist()), tuple(tuple(row) for row in table.tolist())
