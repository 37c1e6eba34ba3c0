"""Forecasting (numbers in, numbers out): series -> random windows -> RNN encoder and horizon
decoder -> quantiles (models/forecaster.py), through the shared training driver.

Data: one file of one or more series (readers/timeseries.py checks timestamps, frequency,
gaps and values, naming file:line). The last horizon of every series validates: training
windows end before it, and validation forecasts it from the context just before. The
validation figure is the mean MASE over series (lower is better), and each evaluation
also fits the interval calibration (ForecastModel.interval_scale): the factor on each
quantile's distance from the median that minimises the validation pinball loss. Intervals
fitted on training windows are too narrow on new data (bench/forecast_probe.py: 80%
intervals covered 30% of held-out points uncalibrated); the factor travels with the
weights of the best checkpoint. One horizon per series is too few points to fit a width
honestly, so with --intervals history (the default) the intervals are also widened to the
seasonal naive forecast's errors over each series' past (tasks/forecast_intervals.py), in
validation as in `forecast` and `eval`.

An epoch is `--steps-per-epoch` batches of windows drawn from (seed, epoch): a series
uniformly, then an end within it, so exact resume holds and long series do not drown
short ones.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import torch

from rnncli.core.windows import last_windows, sample_ends, window_batch
from rnncli.metrics.forecast import interval_columns, mase_scale, nanmean, score_series
from rnncli.models.forecaster import ForecasterConfig, ForecastModel, default_context
from rnncli.tasks.base import Task
from rnncli.tasks.forecast_data import (Features, check_lengths, cut, default_horizon, read, series_tensors,
                                        to_device)
from rnncli.tasks.forecast_intervals import batch_offsets, widened_rows

SCALE_GRID = [0.25 + 0.05 * k for k in range(116)]   # interval factors tried: 0.25 .. 6.0


class ForecastTask(Task):
    name, metric, maximize, unit = "forecast", "mase", False, "windows"
    model_class, model_config = ForecastModel, ForecasterConfig

    def read_data(self, sources) -> None:
        s = self.settings
        source = sources["train"]
        self.data = read(source, s.to_dict())
        freq = self.data.freq
        self.horizon = default_horizon(freq, s.horizon)
        self.context = self.pick_context(s.context, default_context(freq.group, self.horizon))
        self.features = Features.of(freq, self.data.covariates)
        self.names = [series.name for series in self.data.series]
        filled = f"; {self.data.filled} missing value(s) filled by interpolation" if self.data.filled else ""
        trimmed = f", {self.data.trimmed} at series ends dropped" if self.data.trimmed else ""
        self.notes.append(f"{len(self.names)} series ({self.data.layout} layout), {freq.name}, "
                          f"{min(map(len, self.data.series))}-{max(map(len, self.data.series))} values; "
                          f"horizon {self.horizon}, context {self.context}{filled}{trimmed}")

    def pick_context(self, given: int | None, default: int) -> int:
        """The given context, or the default shortened to what the shortest series allows."""
        shortest = min(len(series) for series in self.data.series)
        held = 2 * self.horizon     # a training window's future, then the validation horizon
        why = f"context + horizon for training windows, and a horizon of {self.horizon} held out to validate"
        if given is not None:
            check_lengths(self.data, given + held, why.replace("context", f"context {given}", 1))
            return given
        if shortest - held < default:
            fitted = shortest - held
            if fitted < max(2, self.horizon // 2):
                check_lengths(self.data, max(2, self.horizon // 2) + held, why)
            self.notes.append(f"context shortened from {default} to {fitted} steps to fit the shortest series")
            return fitted
        return default

    def build_tokenizers(self) -> None:
        return None

    @classmethod
    def load_tokenizers(cls, directory: Path, config: dict[str, Any]) -> None:
        return None

    def build_model(self) -> ForecastModel:
        s, f, h = self.settings, self.features, self.horizon
        full = [series_tensors(series, f, number, 0) for number, series in enumerate(self.data.series, start=1)]
        self.train_series = [cut(t, len(t) - h) for t in full]   # the calendar still runs through the end
        self.valid_actual = [t.values[-h:] for t in full]
        self.insample = [t.values[:-h].tolist() for t in full]
        self.cached: tuple[int, list] | None = None
        self.valid_offsets: list | None = None
        config = ForecasterConfig(
            horizon=h, context=self.context, quantiles=tuple(s.quantiles), decoder=s.decoder, cell=s.cell,
            hidden=s.hidden, layers=s.layers, dropout=s.dropout, calendar=f.calendar, seasons=f.seasons,
            covariates=len(f.covariates), num_series=len(full), period=f.period, scaling=s.scaling,
            baseline=s.baseline, members=s.ensemble)
        return ForecastModel(config)

    def epoch_batches(self, epoch: int) -> list[dict[str, torch.Tensor]]:
        if self.cached is None or self.cached[0] != epoch:   # the loop asks twice for an epoch
            generator = torch.Generator().manual_seed(self.train.seed * 100_003 + epoch)
            batches = []
            for _ in range(self.settings.steps_per_epoch):
                ends = sample_ends(self.train_series, self.context, self.horizon, self.train.batch_size, generator)
                batches.append(window_batch(self.train_series, ends, self.context, self.horizon))
            self.cached = (epoch, batches)
        return self.cached[1]

    def loss(self, model, batch):
        return model(batch, loss=True), int(batch["past"].size(0))

    def evaluate(self, model: ForecastModel, device) -> dict[str, float]:
        raw = model.raw_quantiles(to_device(last_windows(self.train_series, self.context, self.horizon),
                                            device)).float().cpu()
        actual = torch.stack(self.valid_actual)
        scales = torch.tensor([mase_scale(y, model.config.period) for y in self.insample])
        scale = fit_interval_scale(model, raw, actual, scales)
        model.interval_scale.fill_(scale)
        rows = model.calibrated(raw, scale)
        if self.settings.intervals == "history":   # as `forecast` will widen them
            if self.valid_offsets is None:          # the histories never change: once per run
                self.valid_offsets = batch_offsets([t.values.double() for t in self.train_series], self.horizon,
                                                   model.config.period, torch.tensor(model.config.quantiles))
            rows = widened_rows(rows, self.valid_offsets, model.config.median)
        quantiles, middle = model.config.quantiles, model.config.median
        scores = [score_series(y.tolist(), r[:, middle].tolist(), x, model.config.period, r.tolist(), quantiles)
                  for y, r, x in zip(actual, rows, self.insample)]
        keys = ["mase", "smape", "scaled_quantile_loss"]
        if interval_columns(quantiles, 0.8) is not None:
            keys.append("coverage_80")
        metrics = {key: nanmean([s[key] for s in scores]) for key in keys}
        return {**metrics, "interval_scale": scale}

    def describe(self) -> dict[str, Any]:
        data = self.data
        return {"series": {"names": self.names, "layout": data.layout, "time_column": data.time_column,
                           "covariates": list(data.covariates), "freq": dataclasses.asdict(data.freq),
                           "freq_name": data.freq.name, "format": dataclasses.asdict(data.fmt),
                           "horizon": self.horizon, "context": self.context,
                           "filled": data.filled}}

    def save_files(self, directory: Path) -> None:
        return None   # no tokenizer: config.json and the weights say everything

    @classmethod
    def load(cls, checkpoint, device: str = "auto", **options):
        from rnncli.errors import UsageError
        from rnncli.tasks.forecast_predict import SeriesForecaster

        if options:
            raise UsageError(f"a forecaster takes no loading option {sorted(options)[0]!r}")
        return SeriesForecaster(*cls.load_parts(checkpoint, device))

    @classmethod
    def evaluate_checkpoint(cls, checkpoint: Path, data: list[str], device: str = "auto", **options: Any):
        return cls.load(checkpoint, device).evaluate(data, **options)


def fit_interval_scale(model: ForecastModel, raw: torch.Tensor, actual: torch.Tensor,
                       scales: torch.Tensor) -> float:
    """The factor on the quantiles' distances from the median with the lowest pinball loss
    on the validation horizon (each series' loss over its MASE scale, so every series
    weighs alike); 1.0 with a single quantile or no usable scale."""
    levels = torch.tensor(model.config.quantiles)
    usable = torch.isfinite(scales) & (scales > 0)
    if len(levels) < 2 or not bool(usable.any()):
        return 1.0
    raw, actual, scales = raw[usable], actual[usable], scales[usable]
    best, best_loss = 1.0, math.inf
    for factor in SCALE_GRID:
        error = actual.unsqueeze(-1) - model.calibrated(raw, factor)
        loss = (torch.maximum(levels * error, (levels - 1) * error).mean((1, 2)) / scales).mean().item()
        if loss < best_loss - 1e-12:
            best, best_loss = factor, loss
    return round(best, 4)


TASK = ForecastTask
