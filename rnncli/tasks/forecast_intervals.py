"""Prediction intervals at least as wide as a simple forecast's errors over the series' past.

Why: the network learns its quantiles on windows it trains on, and its intervals come out
about three times too narrow on data it has not seen. On the held-out ends of
../shared/data/timeseries (bench/bench_forecast.py) its validation-fitted 80% intervals
covered 37% of the points; the same intervals widened ×3 covered 84% with a lower pinball
loss (0.70 against 0.84), so the narrowness is a real loss, not caution. The validation
horizon is one window per series: too few points to fit that factor honestly.

What: the empirical error quantiles of the seasonal naive forecast (naive without a
season) over every earlier origin of the series' own history, each origin's errors over
the mean absolute value of the values before it (so errors from a smaller past level
scale up), centred on their median and scaled to the current level. No parameters are
fitted, nothing after the forecast origin is read, and a baseline cannot overfit, so its
historical errors are an honest gauge of out-of-sample uncertainty (Williams and Goodman's
empirical intervals). The final interval is the union of that band and the network's,
both around the network's median: an interval narrower than the network's own is never
produced, and the median (the point forecast) never moves.
"""

from __future__ import annotations

import torch

MIN_ORIGINS = 8          # fewer past origins than this: the network's band alone
MAX_ORIGINS = 20_000     # the most recent origins only, so a very long series costs little
TINY = 1e-9


def history_offsets(values: torch.Tensor, horizon: int, period: int,
                    levels: torch.Tensor) -> torch.Tensor | None:
    """(horizon, Q) offsets from the median at quantile `levels` for a forecast from the
    end of `values` (1-D, the history), or None when the history holds too few origins."""
    values = values.double()
    lag = max(1, period)
    context = max(lag, horizon)      # the level window, long enough for the seasonal lag
    count = values.numel() - horizon - context + 1
    if count < MIN_ORIGINS:
        return None
    first = context + max(0, count - MAX_ORIGINS)
    origins = torch.arange(first, values.numel() - horizon + 1)
    steps = torch.arange(horizon)
    actual = values[origins.unsqueeze(1) + steps]
    naive = values[origins.unsqueeze(1) - lag + steps % lag]
    level = values.abs().unfold(0, context, 1)[origins - context].mean(1)
    usable = level > TINY
    if int(usable.sum()) < MIN_ORIGINS:
        return None
    errors = (actual - naive)[usable] / level[usable].unsqueeze(1)
    quantiles = torch.quantile(errors, torch.cat([levels.double(), torch.tensor([0.5], dtype=torch.double)]), dim=0)
    offsets = (quantiles[:-1] - quantiles[-1]).T            # (H, Q), centred on the error median
    current = values[-context:].abs().mean()
    return (offsets * current).float()


def widen(rows: torch.Tensor, offsets: torch.Tensor | None, median: int) -> torch.Tensor:
    """The union of the network's band (rows (H, Q)) and median + offsets: each quantile
    below the median at least as low, each above at least as high. Both are monotone in
    the level, so the result is too."""
    if offsets is None:
        return rows
    centre = rows[:, median:median + 1]
    band = centre + offsets.to(rows)
    out = rows.clone()
    out[:, :median] = torch.minimum(rows[:, :median], band[:, :median])
    out[:, median + 1:] = torch.maximum(rows[:, median + 1:], band[:, median + 1:])
    return out


def batch_offsets(histories: list[torch.Tensor], horizon: int, period: int,
                  levels: torch.Tensor) -> list[torch.Tensor | None]:
    """history_offsets for each history (the values before each row's origin)."""
    return [history_offsets(h, horizon, period, levels) for h in histories]


def widened_rows(rows: torch.Tensor, offsets: list[torch.Tensor | None], median: int) -> torch.Tensor:
    """widen() over a batch: rows (S, H, Q), offsets[i] from batch_offsets for row i."""
    return torch.stack([widen(r, o, median) for r, o in zip(rows, offsets)]) if len(offsets) else rows
