"""What training and forecasting share: reading series with a run's options, the model's
tensors of a series (values, calendar and season rows running past its end, covariates),
and the defaults that depend on the frequency (horizon, context).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import torch

from rnncli.core.windows import SeriesTensors
from rnncli.errors import DataError
from rnncli.readers.timeseries import Series, SeriesSet, read_series
from rnncli.seasons import calendar_features, calendar_names, m4_horizon, season_index, seasonal_period
from rnncli.timestamps import Freq

PREDICT_BATCH = 256       # series forecast together


def read_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """read_series keyword arguments from saved (or given) settings."""
    target = options.get("target")
    return dict(fmt=options.get("format"), time_column=options.get("time_column"),
                target=list(target) if target else None, covariates=tuple(options.get("covariates") or ()),
                id_column=options.get("id_column"), freq=options.get("freq"),
                missing=options.get("missing", "interpolate"))


def read(path, options: Mapping[str, Any]) -> SeriesSet:
    return read_series(path, **read_options(options))


@dataclass(frozen=True)
class Features:
    """Which inputs the model reads besides the values, fixed by the frequency at training."""

    freq: Freq
    calendar: int           # calendar feature columns
    seasons: int            # season-index embedding rows (0: none)
    period: int
    covariates: tuple[str, ...]

    @classmethod
    def of(cls, freq: Freq, covariates: Sequence[str]) -> "Features":
        period = seasonal_period(freq)
        return cls(freq, len(calendar_names(freq)), period if period > 1 else 0, period, tuple(covariates))


def series_tensors(series: Series, features: Features, series_id: int, future: int,
                   tail: int | None = None) -> SeriesTensors:
    """The tensors of one series (of its last `tail` values only, when given: a forecast
    reads just the context, and calendar features cost a Python loop per step); calendar
    and season rows run `future` steps past its end."""
    start = 0 if tail is None else max(0, len(series) - tail)
    positions = list(series.index.positions[start:]) + (series.index.future(future) if future else [])
    calendar = (torch.tensor(calendar_features(positions, features.freq), dtype=torch.float32)
                if features.calendar else None)
    season = torch.tensor(season_index(positions, features.freq), dtype=torch.long) if features.seasons else None
    covariates = None
    if features.covariates:
        covariates = torch.tensor([series.covariates[name][start:] for name in features.covariates],
                                  dtype=torch.float32).T.contiguous()
    return SeriesTensors(torch.tensor(series.values[start:], dtype=torch.float32), calendar, season, covariates,
                         series_id)


def cut(tensors: SeriesTensors, end: int) -> SeriesTensors:
    """The series up to `end` (values and covariates); calendar and season rows stay whole."""
    covariates = tensors.covariates[:end] if tensors.covariates is not None else None
    return replace(tensors, values=tensors.values[:end], covariates=covariates)


def default_horizon(freq: Freq, given: int | None) -> int:
    return given if given is not None else m4_horizon(freq)


def check_lengths(series_set: SeriesSet, minimum: int, what: str) -> None:
    """Every series needs `minimum` values; `what` says what they are for."""
    for series in series_set.series:
        if len(series) < minimum:
            raise DataError.at(series_set.path, series.lines[0] if series.lines else None,
                               f"series {series.name!r} has {len(series)} values; at least {minimum} "
                               f"are needed ({what})")


def to_device(batch: dict[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    return {key: value.to(device) for key, value in batch.items()}


def freq_of(saved: Mapping[str, Any]) -> Freq:
    return Freq(saved["unit"], int(saved["step"]))
