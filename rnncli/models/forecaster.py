"""The forecaster (many-to-many, numbers): a window of history in, horizon quantiles out.

    past values (B, T) -> per-window level and scale -> z = (past - level) / scale
    [z, calendar, season embedding, covariates, series embedding] (B, T, E)
        -> RNN stack (rnncli.core.rnn.RNNStack) -> final state
    decoder "rnn":    an RNN over the H future steps, started from the encoder state, fed
                      each step's calendar, season, series embedding, step embedding and
                      baseline value; a linear layer per step -> (B, H, Q)
    decoder "direct": an MLP from the encoder's final hidden state (and the future
                      calendar) to all H x Q outputs at once
    -> monotone quantiles (median + softplus gaps) + baseline (B, H, Q) in z units
    -> quantiles * scale + level, in the series' own units

Scaling per window lets one global model serve series of any magnitude. `scaling`:
    "mean-abs"  level 0, scale mean |past| (DeepAR's choice; suits positive data)
    "level"     level = mean of the last season of the window (the last value when the
                period is 1), scale = mean |one-step change| of the window. The loss in z
                units is then the error relative to the window's own naive error, the
                quantity MASE measures, so every window weighs as MASE would weigh it.
`baseline` makes the network learn a residual (the M4 winner's idea, with a naive or
seasonal-naive base rather than exponential smoothing): "none" (0), "naive" (the last
z), "seasonal" (the z of one season earlier, per future step), "seasonal-drift" (that plus
the window's mean change per season, once per season ahead: a trend carried forward).

Defaults (decoder "rnn", scaling "level", baseline "seasonal-drift", LSTM 64, one layer)
are the best of what bench/forecast_probe.py measured on ../shared/data/timeseries: mean
MASE 2.26 against ETS 2.50 and seasonal naive 2.94 (the direct head 2.27; mean-abs scaling
2.65, though 0.59 on the two monthly sets: try it for positive series with multiplicative
seasons). Intervals are calibrated in-sample (80% intervals cover 0.83 of training windows)
but under-cover those sets' held-out ends (0.30; ETS 0.52); tasks/forecast_intervals.py
widens them from each series' past, which covers 0.83 there.

Batches are dicts of tensors (see core/windows.py, which builds them):
    past (B, T) float; future (B, H) float (loss only)
    past_calendar (B, T, C), future_calendar (B, H, C)       when calendar > 0
    past_season (B, T), future_season (B, H) long in [0, seasons)   when seasons > 0
    past_covariates (B, T, K)                                when covariates > 0
    series (B,) long in [0, num_series], 0 = a series not seen in training  when num_series > 1
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from rnncli.core.quantile import median_index, monotone_quantiles, pinball_loss
from rnncli.core.rnn import CELLS, RNNStack, last_layer_hidden

DECODERS = ("rnn", "direct")
SCALINGS = ("mean-abs", "level")
BASELINES = ("none", "naive", "seasonal", "seasonal-drift")
EPSILON = 1e-6  # relative floor of a window's scale: a constant window must not divide by 0
# Context (steps of history per window) by M4 frequency group (rnncli.timestamps.Freq.group),
# chosen with bench/forecast_probe.py: about three seasons (two years for weekly data, four
# days for half-hourly), long enough for the RNN to see the season, short enough to keep
# many windows in short series and the RNN fast.
DEFAULT_CONTEXT = {"yearly": 12, "quarterly": 16, "monthly": 36, "weekly": 104, "daily": 60,
                   "hourly": 192}


def default_context(group: str, horizon: int) -> int:
    """The context for a frequency group, at least twice the horizon."""
    return max(DEFAULT_CONTEXT.get(group, 24), 2 * horizon)


@dataclass(frozen=True)
class ForecasterConfig:
    horizon: int
    context: int
    quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)
    decoder: str = "rnn"
    cell: str = "lstm"
    hidden: int = 64
    layers: int = 1
    dropout: float = 0.0
    calendar: int = 0            # calendar features per step (rnncli.timestamps.calendar_names)
    seasons: int = 0             # size of the season-index embedding table; 0: none
    season_embed: int = 8
    covariates: int = 0          # covariate columns, read over the past window only
    num_series: int = 1          # > 1: a series embedding (row 0 for unseen series)
    series_embed: int = 8
    series_dropout: float = 0.1  # share of training windows shown as an unseen series
    period: int = 1              # seasonal period in steps (level and seasonal baseline)
    scaling: str = "level"
    baseline: str = "seasonal-drift"
    members: int = 1             # ForecastModel: networks trained together, quantiles averaged

    def __post_init__(self):
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder {self.decoder!r} is not one of {', '.join(DECODERS)}")
        if self.cell not in CELLS:
            raise ValueError(f"cell {self.cell!r} is not one of {', '.join(CELLS)}")
        if self.scaling not in SCALINGS:
            raise ValueError(f"scaling {self.scaling!r} is not one of {', '.join(SCALINGS)}")
        if self.baseline not in BASELINES:
            raise ValueError(f"baseline {self.baseline!r} is not one of {', '.join(BASELINES)}")
        if self.members < 1:
            raise ValueError(f"members must be >= 1, got {self.members}")
        if self.horizon < 1 or self.context < 2:
            raise ValueError(f"horizon must be >= 1 and context >= 2, got {self.horizon}, {self.context}")
        qs = self.quantiles
        if not qs or list(qs) != sorted(set(qs)) or not all(0 < q < 1 for q in qs):
            raise ValueError(f"quantiles must be increasing, distinct and in (0, 1), got {qs}")

    @property
    def median(self) -> int:
        return median_index(self.quantiles)

    def to_dict(self) -> dict:
        values = asdict(self)
        values["quantiles"] = list(self.quantiles)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> "ForecasterConfig":
        return cls(**{**values, "quantiles": tuple(values.get("quantiles", cls.quantiles))})


class Forecaster(nn.Module):
    def __init__(self, config: ForecasterConfig):
        super().__init__()
        self.config = c = config
        self.register_buffer("quantile_levels", torch.tensor(c.quantiles), persistent=False)
        side = c.calendar + (c.season_embed if c.seasons else 0) + (c.series_embed if c.num_series > 1 else 0)
        self.season = nn.Embedding(c.seasons, c.season_embed) if c.seasons else None
        self.series = nn.Embedding(c.num_series + 1, c.series_embed) if c.num_series > 1 else None
        self.encoder = RNNStack(c.cell, 1 + c.covariates + side, c.hidden, c.layers, dropout=c.dropout)
        q = len(c.quantiles)
        if c.decoder == "rnn":
            self.step = nn.Embedding(c.horizon, 8)  # which step ahead: uncertainty grows with it
            self.decoder = RNNStack(c.cell, side + 8 + 1, c.hidden, c.layers, dropout=c.dropout)
            self.head = nn.Linear(c.hidden, q)
        else:
            width = c.hidden + c.horizon * c.calendar + (c.series_embed if c.num_series > 1 else 0)
            self.head = nn.Sequential(nn.Linear(width, 2 * c.hidden), nn.ReLU(),
                                      nn.Linear(2 * c.hidden, c.horizon * q))
        with torch.no_grad():  # start at the baseline with narrow, non-crossing quantiles
            last = self.head if c.decoder == "rnn" else self.head[-1]
            last.weight.mul_(0.1)
            last.bias.zero_()

    # ---- pieces -------------------------------------------------------------------------

    def normalise(self, past: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """past (B, T) -> level (B, 1), scale (B, 1), both per window."""
        size = past.abs().mean(1, keepdim=True)
        if self.config.scaling == "mean-abs":
            return torch.zeros_like(size), size.clamp_min(EPSILON)
        period = self.config.period if past.size(1) >= self.config.period else 1
        level = past[:, -period:].mean(1, keepdim=True)
        scale = (past[:, 1:] - past[:, :-1]).abs().mean(1, keepdim=True)
        return level, torch.maximum(scale, EPSILON * size).clamp_min(EPSILON)

    def baseline(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, T) -> the baseline forecast in z units (B, H)."""
        c = self.config
        if c.baseline == "none":
            return z.new_zeros(z.size(0), c.horizon)
        seasonal = c.baseline in ("seasonal", "seasonal-drift")
        period = c.period if seasonal and z.size(1) >= c.period else 1
        ahead = torch.arange(c.horizon, device=z.device)
        base = z[:, z.size(1) - period + ahead % period]
        if c.baseline == "seasonal-drift" and z.size(1) > period:
            change = (z[:, period:] - z[:, :-period]).mean(1, keepdim=True)  # per season
            base = base + change * (ahead // period + 1)
        return base

    def side_inputs(self, batch: dict, when: str, steps: int) -> list[torch.Tensor]:
        """Calendar, season and series features for `when` ("past"/"future"), (B, steps, *)."""
        parts = []
        if self.config.calendar:
            parts.append(batch[f"{when}_calendar"])
        if self.season is not None:
            parts.append(self.season(batch[f"{when}_season"]))
        if self.series is not None:
            parts.append(self.series(batch["series"]).unsqueeze(1).expand(-1, steps, -1))
        return parts

    def dropped_ids(self, ids: torch.Tensor) -> torch.Tensor:
        """In training, some windows pose as an unseen series (id 0), so row 0 learns a
        generic embedding for series that forecasting meets for the first time."""
        if self.training and self.config.series_dropout > 0:
            unseen = torch.rand(ids.shape, device=ids.device) < self.config.series_dropout
            ids = ids.masked_fill(unseen, 0)
        return ids

    # ---- forward ------------------------------------------------------------------------

    def scaled_quantiles(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> quantiles in z units (B, H, Q), level (B, 1), scale (B, 1)."""
        c = self.config
        past = batch["past"]
        batch_size, steps = past.shape
        level, scale = self.normalise(past)
        z = (past - level) / scale
        inputs = [z.unsqueeze(-1)]
        if c.covariates:
            covariates = batch["past_covariates"]
            mean = covariates.mean(1, keepdim=True)
            spread = covariates.std(1, keepdim=True).nan_to_num(0.0).clamp_min(EPSILON)
            inputs.append((covariates - mean) / spread)
        if self.series is not None:  # one draw of unseen-series ids for encoder and decoder
            batch = {**batch, "series": self.dropped_ids(batch["series"])}
        inputs += self.side_inputs(batch, "past", steps)
        _, state = self.encoder(torch.cat(inputs, -1))
        base = self.baseline(z)
        if c.decoder == "rnn":
            step = self.step.weight.unsqueeze(0).expand(batch_size, -1, -1)
            future = torch.cat(self.side_inputs(batch, "future", c.horizon) + [step, base.unsqueeze(-1)], -1)
            outputs, _ = self.decoder(future, state=state)
            raw = self.head(outputs)
        else:
            parts = [last_layer_hidden(state, self.encoder.num_directions)]
            if c.calendar:
                parts.append(batch["future_calendar"].flatten(1))
            if self.series is not None:
                parts.append(self.series(batch["series"]))
            raw = self.head(torch.cat(parts, -1)).view(batch_size, c.horizon, -1)
        return monotone_quantiles(raw, c.median) + base.unsqueeze(-1), level, scale

    def forward(self, batch: dict) -> torch.Tensor:
        """batch (see the module docstring) -> quantiles (B, H, Q) in the series' units."""
        quantiles, level, scale = self.scaled_quantiles(batch)
        return quantiles * scale.unsqueeze(-1) + level.unsqueeze(-1)

    def loss(self, batch: dict) -> torch.Tensor:
        """Mean pinball loss in z units (each window's error over its own scale)."""
        quantiles, level, scale = self.scaled_quantiles(batch)
        target = (batch["future"] - level) / scale
        return pinball_loss(quantiles, target, self.quantile_levels)

    def predict(self, batch: dict) -> torch.Tensor:
        """forward in eval mode, without gradients: (B, H, Q)."""
        return in_eval_mode(self, batch)


class ForecastModel(nn.Module):
    """What rnncli trains and saves: `members` Forecasters (an ensemble of initialisations,
    trained together on the same batches) and the interval calibration.

    forward(batch, loss=True) is the training loss (the members' mean pinball loss), so a
    DistributedDataParallel wrapper sees the whole computation; predict(batch) the
    members' mean quantiles with each quantile's distance from the median multiplied by
    `interval_scale`, a buffer the validation sets (see tasks/forecast.py): the network's
    intervals, fitted on windows it trains on, are narrower than its errors on new data.
    """

    def __init__(self, config: ForecasterConfig):
        super().__init__()
        self.config = config
        self.members = nn.ModuleList(Forecaster(config) for _ in range(config.members))
        self.register_buffer("interval_scale", torch.ones(()))

    def forward(self, batch: dict, loss: bool = False) -> torch.Tensor:
        if loss:
            return torch.stack([member.loss(batch) for member in self.members]).mean()
        return self.calibrated(self.raw_quantiles(batch), self.interval_scale)

    def raw_quantiles(self, batch: dict) -> torch.Tensor:
        """The members' mean quantiles (B, H, Q), before calibration."""
        return torch.stack([member(batch) for member in self.members]).mean(0)

    def calibrated(self, quantiles: torch.Tensor, scale: torch.Tensor | float) -> torch.Tensor:
        median = quantiles[..., self.config.median:self.config.median + 1]
        return median + (quantiles - median) * scale

    def predict(self, batch: dict) -> torch.Tensor:
        """Calibrated quantiles (B, H, Q) in the series' units, in eval mode."""
        return in_eval_mode(self, batch)


@torch.no_grad()
def in_eval_mode(module: nn.Module, batch: dict) -> torch.Tensor:
    """module(batch) in eval mode (dropout off) without gradients; the mode is restored."""
    was_training = module.training
    module.eval()
    try:
        return module(batch)
    finally:
        module.train(was_training)
