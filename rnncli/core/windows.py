"""Windows over time series as forecaster batches (pure torch, no I/O).

A window ends at `end`: its past is values[end - context:end], its future the next
`horizon` values. Training windows lie wholly inside a series; a forecast window ends at
the series' end and needs the calendar (and season) of the steps after it, so those two
tensors may run `horizon` rows past the values.

Batch keys and shapes are those of rnncli.models.forecaster (past (B, T), future (B, H),
past/future_calendar (B, T|H, C), past/future_season (B, T|H), past_covariates (B, T, K),
series (B,)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class SeriesTensors:
    """One series: values (N,), calendar (N + F, C), season (N + F,) long, covariates (N, K),
    series_id (1-based; 0 is reserved for series the model has not seen). F >= 0."""

    values: torch.Tensor
    calendar: torch.Tensor | None = None
    season: torch.Tensor | None = None
    covariates: torch.Tensor | None = None
    series_id: int = 1

    def __len__(self) -> int:
        return self.values.numel()


def window_ends(series: list[SeriesTensors], context: int, horizon: int) -> list[tuple[int, int]]:
    """Every (series index, end) of a training window lying wholly inside its series."""
    return [(i, end) for i, s in enumerate(series) for end in range(context, len(s) - horizon + 1)]


def sample_ends(series: list[SeriesTensors], context: int, horizon: int, count: int,
                generator: torch.Generator | None = None) -> list[tuple[int, int]]:
    """`count` random training windows: a series uniformly (so a long series does not drown
    the short ones), then an end uniformly within it. Series too short are never drawn."""
    usable = [i for i, s in enumerate(series) if len(s) >= context + horizon]
    if not usable:
        raise ValueError(f"no series holds context + horizon = {context + horizon} values")
    picks = torch.randint(len(usable), (count,), generator=generator).tolist()
    spots = torch.rand(count, generator=generator).tolist()
    out = []
    for pick, spot in zip(picks, spots):
        i = usable[pick]
        choices = len(series[i]) - horizon - context + 1
        out.append((i, context + min(int(spot * choices), choices - 1)))
    return out


def window_batch(series: list[SeriesTensors], ends: list[tuple[int, int]], context: int,
                 horizon: int, with_future: bool = True) -> dict[str, torch.Tensor]:
    """The batch of windows `ends`; with_future=False leaves out `future` (forecasting)."""
    first = series[ends[0][0]]
    batch: dict[str, list] = {"past": [], "future": [], "past_calendar": [], "future_calendar": [],
                              "past_season": [], "future_season": [], "past_covariates": [],
                              "series": []}
    for i, end in ends:
        s = series[i]
        start = end - context
        if start < 0:
            raise ValueError(f"a window ending at {end} needs {context} values before it")
        batch["past"].append(s.values[start:end])
        if with_future:
            batch["future"].append(s.values[end:end + horizon])
        for key, table in (("calendar", s.calendar), ("season", s.season)):
            if table is not None:
                if table.size(0) < end + horizon:
                    raise ValueError(f"the {key} rows must run {horizon} steps past a window's "
                                     f"end ({end + horizon} rows needed, {table.size(0)} given)")
                batch[f"past_{key}"].append(table[start:end])
                batch[f"future_{key}"].append(table[end:end + horizon])
        if s.covariates is not None:
            batch["past_covariates"].append(s.covariates[start:end])
        batch["series"].append(s.series_id)
    out = {key: torch.stack(rows) for key, rows in batch.items() if rows and key != "series"}
    out["series"] = torch.tensor(batch["series"], dtype=torch.long, device=first.values.device)
    return out


def last_windows(series: list[SeriesTensors], context: int, horizon: int) -> dict[str, torch.Tensor]:
    """One forecast window per series, ending at its last value."""
    return window_batch(series, [(i, len(s)) for i, s in enumerate(series)], context, horizon,
                        with_future=False)
