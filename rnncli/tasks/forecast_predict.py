"""A trained forecaster ready for use: continue series, and backtest them against baselines.

    forecaster = rnncli.load("runs/fc")
    for f in forecaster.forecast("sales.csv"):        # every series, from the end of its input
        f.series, f.timestamps, f.point, f.quantiles[0.9]
    report = forecaster.evaluate(["sales.csv"], horizon=12, folds=3)

The backtest (`rnncli eval CKPT FILE`) is rolling-origin over the last `folds` windows of
`horizon` steps: the model, the naive and seasonal-naive forecasts and ETS (statsmodels)
each forecast from every origin with only the values before it, and every window is
scored with MASE over that window's own in-sample seasonal naive error (M4's definition).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from rnncli.core.windows import window_batch
from rnncli.errors import DataError, UsageError
from rnncli.metrics.forecast import nanmean, score_series
from rnncli.readers.timeseries import SeriesSet
from rnncli.tasks.forecast_data import (PREDICT_BATCH, Features, check_lengths, freq_of, read, series_tensors,
                                        to_device)
from rnncli.tasks.forecast_intervals import batch_offsets, widened_rows
from rnncli.timestamps import format_position

BASELINE_METHODS = (("naive", "naive"), ("seasonal_naive", "seasonal-naive"), ("ets", "ets"))


@dataclass
class SeriesForecast:
    """One series' forecast: future timestamps as the input writes them, the point forecast
    (the median) and every quantile's values."""

    series: str
    timestamps: list[str]
    point: list[float]
    quantiles: dict[float, list[float]]


class SeriesForecaster:
    task = "forecast"

    def __init__(self, config: dict[str, Any], _vocab, model, device: torch.device):
        self.config, self.model, self.device = config, model, device
        self.options = config["options"]
        layout = config["series"]
        self.horizon, self.context = int(layout["horizon"]), int(layout["context"])
        self.freq = freq_of(layout["freq"])
        self.features = Features.of(self.freq, layout.get("covariates", []))
        self.ids = {name: number for number, name in enumerate(layout["names"], start=1)}
        self.quantiles = tuple(model.config.quantiles)
        self.period = model.config.period
        # checkpoints from before the option had the network's band alone
        self.from_history = self.options.get("intervals", "model") == "history"
        self.last_read: SeriesSet | None = None    # what the latest call read (for messages)

    # ---- reading --------------------------------------------------------------------------
    def read(self, data: str | Path | SeriesSet) -> SeriesSet:
        """A series file read with the training run's options, checked against the model."""
        series_set = data if isinstance(data, SeriesSet) else read(data, self.options)
        if series_set.freq != self.freq:
            raise DataError(f"{series_set.path}: {series_set.freq.name} data, but the model was trained "
                            f"on {self.freq.name} data")
        missing = [c for c in self.features.covariates if c not in series_set.covariates]
        if missing:
            raise DataError(f"{series_set.path}: no covariate column {missing[0]!r} (the model reads it)")
        self.last_read = series_set
        return series_set

    def check_horizon(self, horizon: int | None) -> int:
        if horizon is None:
            return self.horizon
        if not 1 <= horizon <= self.horizon:
            raise UsageError(f"--horizon {horizon}: this model forecasts 1 to {self.horizon} steps "
                             "(train with a longer --horizon for more)")
        return horizon

    # ---- forecasting ----------------------------------------------------------------------
    def forecast(self, data: str | Path | SeriesSet, horizon: int | None = None) -> list[SeriesForecast]:
        """Every series continued from the end of its input, in input order."""
        horizon = self.check_horizon(horizon)
        series_set = self.read(data)
        check_lengths(series_set, self.context, f"the model reads a context of {self.context} steps")
        tensors = self.forecast_tensors(series_set)
        rows = self.quantile_rows(tensors, [self.context] * len(tensors))
        rows = self.widened(rows, [s.values for s in series_set.series])
        middle = self.quantiles.index(0.5) if 0.5 in self.quantiles else self.model.config.median
        out = []
        for series, table in zip(series_set.series, rows):
            table = table[:horizon]
            stamps = [format_position(p, series.index.fmt) for p in series.index.future(horizon)]
            out.append(SeriesForecast(series.name, stamps, table[:, middle].tolist(),
                                      {q: table[:, j].tolist() for j, q in enumerate(self.quantiles)}))
        return out

    def forecast_tensors(self, series_set: SeriesSet) -> list:
        """Each series' last `context` values with the calendar of the horizon after them."""
        return [series_tensors(s, self.features, self.ids.get(s.name, 0), self.horizon, tail=self.context)
                for s in series_set.series]

    @torch.no_grad()
    def network(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The network's calibrated quantiles (B, H, Q) of a window batch, on the CPU (an
        exported artifact's evaluator runs its graph here instead)."""
        return self.model.predict(to_device(batch, self.device)).float().cpu()

    def quantile_rows(self, tensors: list, ends: Sequence[int]) -> torch.Tensor:
        """(S, H, Q) forecasts of windows ending at `ends` (series i's window ends at ends[i])."""
        pieces = []
        for start in range(0, len(tensors), PREDICT_BATCH):
            chunk = list(range(start, min(start + PREDICT_BATCH, len(tensors))))
            batch = window_batch(tensors, [(i, ends[i]) for i in chunk], self.context, self.horizon,
                                 with_future=False)
            pieces.append(self.network(batch))
        return torch.cat(pieces) if pieces else torch.empty(0, self.horizon, len(self.quantiles))

    def widened(self, rows: torch.Tensor, histories: Sequence[Sequence[float]]) -> torch.Tensor:
        """rows (S, H, Q) with intervals widened from each series' past (forecast_intervals),
        when the model was trained with --intervals history; histories[i]: the values
        before row i's origin."""
        if not self.from_history:
            return rows
        levels = torch.tensor(self.quantiles)
        offsets = batch_offsets([torch.tensor(h, dtype=torch.float64) for h in histories], rows.size(1),
                                self.period, levels)
        return widened_rows(rows, offsets, self.model.config.median)

    # ---- backtesting ----------------------------------------------------------------------
    def evaluate(self, data: list[str], horizon: int | None = None, folds: int = 1, baselines: bool = True,
                 **_ignored: Any) -> dict[str, Any]:
        """`rnncli eval CKPT FILE`: the rolling-origin backtest report (see the module doc)."""
        if len(data) != 1:
            raise UsageError(f"a forecaster is scored on one series file, got {len(data)}")
        if folds < 1:
            raise UsageError(f"--folds {folds} must be positive")
        horizon = self.check_horizon(horizon)
        series_set = self.read(data[0])
        check_lengths(series_set, self.context + folds * horizon,
                      f"a context of {self.context} before {folds} fold(s) of {horizon} steps")
        methods = ["rnncli"] + ([name for name, _ in BASELINE_METHODS] if baselines else [])
        notes: list[str] = []
        per_series = {}
        for index, series in enumerate(series_set.series):
            per_series[series.name] = self.backtest_series(series, index, horizon, folds, methods, notes)
        report = backtest_report(series_set, per_series, methods, self.quantiles, self.period, notes)
        origins = f"the last {folds} window(s) of {horizon} steps of each series"
        return {**report, "horizon": horizon, "folds": folds, "points": len(per_series) * horizon * folds,
                "settings": {**report["settings"], "origins": origins}}

    def backtest_series(self, series, index: int, horizon: int, folds: int, methods: list[str],
                        notes: list[str]) -> dict[str, dict[str, float]]:
        tail = self.context + folds * horizon
        tensors = series_tensors(series, self.features, self.ids.get(series.name, 0), self.horizon, tail=tail)
        origins = [len(series) - k * horizon for k in range(folds, 0, -1)]
        rows = self.quantile_rows([tensors] * len(origins), [o - (len(series) - len(tensors)) for o in origins])
        values = list(series.values)
        rows = self.widened(rows, [values[:origin] for origin in origins])
        scores: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
        middle = self.model.config.median
        for origin, table in zip(origins, rows):
            insample, actual = values[:origin], values[origin:origin + horizon]
            table = table[:horizon]
            forecasts = {"rnncli": (table[:, middle].tolist(), table.tolist())}
            forecasts.update(baseline_forecasts(insample, horizon, self.period, self.quantiles, methods, notes,
                                                series.name))
            for method, (point, quantile_rows) in forecasts.items():
                scores[method].append(score_series(actual, point, insample, self.period, quantile_rows,
                                                   self.quantiles))
        return {m: {key: nanmean([s[key] for s in fold]) for key in fold[0]} for m, fold in scores.items() if fold}


def baseline_forecasts(insample: list[float], horizon: int, period: int, quantiles: tuple[float, ...],
                       methods: list[str], notes: list[str], name: str) -> dict[str, tuple]:
    """method -> (point, quantile rows) of each baseline in `methods`, fitted on `insample`.
    ETS without statsmodels is left out with a note (it is in the `forecast` extra)."""
    from rnncli.baselines import forecast_baseline

    out = {}
    for key, method in BASELINE_METHODS:
        if key not in methods:
            continue
        try:
            forecast = forecast_baseline(method, insample, horizon, period, quantiles)
        except ImportError:
            note = "ETS left out: it needs statsmodels (pip install 'rnncli[forecast]')"
            if note not in notes:
                notes.append(note)
            continue
        if forecast.note and len(notes) < 20:
            notes.append(f"{name}: {method}: {forecast.note}")
        out[key] = (list(forecast.point), [list(r) for r in forecast.quantile_forecasts or []] or None)
    return out


def backtest_report(series_set: SeriesSet, per_series: dict, methods: list[str], quantiles: tuple[float, ...],
                    period: int, notes: list[str]) -> dict[str, Any]:
    """Overall means over series for the model (top level, what --fail-under gates) and each
    baseline, the skill ratio, and every series' figures."""
    def means(method: str) -> dict[str, float]:
        rows = [scores[method] for scores in per_series.values() if method in scores]
        return {key: nanmean([r[key] for r in rows]) for key in rows[0]} if rows else {}

    report: dict[str, Any] = {"task": "forecast", "file": series_set.path, "series": len(per_series),
                              **means("rnncli")}
    baselines = {m: means(m) for m in methods[1:]}
    if baselines.get("seasonal_naive", {}).get("mase"):
        report["skill"] = report["mase"] / baselines["seasonal_naive"]["mase"]
    report["baselines"] = {m: figures for m, figures in baselines.items() if figures}
    report["per_series"] = per_series
    report["settings"] = {"period": period, "quantiles": list(quantiles), "interval": 0.8}
    if notes:
        report["notes"] = notes
    return report
