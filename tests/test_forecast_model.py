"""The forecaster: config, shapes, monotone quantiles, scale handling, windows, and a tiny
model that learns a seasonal series in a few hundred steps."""

from __future__ import annotations

import math

import pytest
import torch

from rnncli.core.quantile import median_index, monotone_quantiles, pinball_loss
from rnncli.core.windows import (SeriesTensors, last_windows, sample_ends, window_batch,
                                 window_ends)
from rnncli.models.forecaster import Forecaster, ForecasterConfig

H, T, Q = 6, 24, (0.1, 0.5, 0.9)


def make_series(n: int = 120, count: int = 2, covariates: int = 0, extra: int = H) -> list[SeriesTensors]:
    out = []
    for number in range(1, count + 1):
        t = torch.arange(n + extra, dtype=torch.float32)
        values = number * (10 + 3 * torch.sin(2 * math.pi * t[:n] / 12))
        calendar = torch.stack([torch.sin(2 * math.pi * t / 12), torch.cos(2 * math.pi * t / 12)], -1)
        season = (t % 12).long()
        covs = torch.randn(n, covariates) if covariates else None
        out.append(SeriesTensors(values, calendar, season, covs, number))
    return out


def config(**changes) -> ForecasterConfig:
    values = dict(horizon=H, context=T, quantiles=Q, hidden=16, calendar=2, seasons=12,
                  num_series=2, period=12)
    return ForecasterConfig(**{**values, **changes})


def test_config_round_trips_and_refuses_nonsense():
    c = config(decoder="direct", covariates=3)
    assert ForecasterConfig.from_dict(c.to_dict()) == c
    assert c.to_dict()["quantiles"] == [0.1, 0.5, 0.9] and c.median == 1
    for bad in (dict(decoder="tcn"), dict(quantiles=(0.9, 0.1)), dict(quantiles=(0.0, 0.5)),
                dict(scaling="log"), dict(horizon=0), dict(cell="transformer")):
        with pytest.raises(ValueError):
            config(**bad)


@pytest.mark.parametrize("decoder", ["rnn", "direct"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_shapes_loss_and_gradients(decoder, cell):
    torch.manual_seed(0)
    series = make_series(covariates=2)
    model = Forecaster(config(decoder=decoder, cell=cell, covariates=2))
    batch = window_batch(series, sample_ends(series, T, H, 5), T, H)
    assert batch["past"].shape == (5, T) and batch["future"].shape == (5, H)
    assert batch["future_calendar"].shape == (5, H, 2) and batch["past_covariates"].shape == (5, T, 2)
    assert model(batch).shape == (5, H, 3)
    loss = model.loss(batch)
    loss.backward()
    assert loss.ndim == 0 and math.isfinite(loss.item())
    assert all(p.grad is not None for p in model.encoder.parameters())
    forecast = model.predict(last_windows(series, T, H))
    assert forecast.shape == (2, H, 3) and model.training


def test_quantiles_never_cross():
    raw = torch.randn(200, 7) * 10
    ordered = monotone_quantiles(raw, median_index((0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)))
    assert (ordered.diff(dim=-1) >= 0).all() and torch.equal(ordered[:, 3], raw[:, 3])
    torch.manual_seed(1)
    model = Forecaster(config())
    for p in model.parameters():  # far from the gentle initialisation
        p.data.normal_(0, 2)
    series = make_series()
    out = model(window_batch(series, sample_ends(series, T, H, 16), T, H))
    assert (out.diff(dim=-1) >= 0).all()


def test_pinball_loss_matches_the_definition():
    predicted = torch.tensor([[5.0, 6.0, 8.0], [4.0, 7.0, 9.0]])
    assert pinball_loss(predicted, torch.tensor([7.0, 5.0]), torch.tensor(Q)).item() == pytest.approx(2.3 / 6)


@pytest.mark.parametrize("scaling", ["level", "mean-abs"])
def test_one_model_serves_any_magnitude(scaling):
    """Scaled inputs give scaled forecasts (and with "level", shifted inputs shifted ones)."""
    torch.manual_seed(2)
    model = Forecaster(config(scaling=scaling)).eval()
    series = make_series()
    batch = window_batch(series, [(0, 40), (1, 70)], T, H, with_future=False)
    bigger = {**batch, "past": batch["past"] * 1000}
    assert torch.allclose(model(bigger), model(batch) * 1000, rtol=1e-4)
    if scaling == "level":
        shifted = {**batch, "past": batch["past"] - 500}
        assert torch.allclose(model(shifted), model(batch) - 500, atol=1e-3)


def test_constant_windows_and_unseen_series_are_finite():
    model = Forecaster(config()).eval()
    series = [SeriesTensors(torch.full((40,), 7.0), make_series()[0].calendar[:46],
                            make_series()[0].season[:46], None, 0)]
    out = model(last_windows(series, T, H))
    assert torch.isfinite(out).all() and torch.allclose(out[..., 1], torch.full((1, H), 7.0), atol=1e-4)


def test_windows_lie_inside_their_series():
    series = make_series(n=40, count=2)
    assert len(window_ends(series, T, H)) == 2 * (40 - T - H + 1)
    ends = sample_ends(series, T, H, 500, torch.Generator().manual_seed(0))
    assert {end for _, end in ends} <= set(range(T, 40 - H + 1)) and {i for i, _ in ends} == {0, 1}
    short = [SeriesTensors(torch.zeros(40), torch.zeros(40, 2), None, None, 1)]
    with pytest.raises(ValueError, match="run 6 steps past"):
        last_windows(short, T, H)


@pytest.mark.parametrize("decoder", ["rnn", "direct"])
def test_a_tiny_model_learns_a_seasonal_series(decoder):
    """No baseline to lean on: the network itself must learn the season from the data."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    noise = torch.Generator().manual_seed(1)
    series = make_series(n=200, count=1)
    series[0].values += 0.1 * torch.randn(200, generator=noise)
    train = [SeriesTensors(series[0].values[:-H], series[0].calendar, series[0].season, None, 1)]
    model = Forecaster(config(decoder=decoder, num_series=1, baseline="none", hidden=24))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(250):
        batch = window_batch(train, sample_ends(train, T, H, 32, generator), T, H)
        loss = model.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    forecast = model.predict(last_windows(train, T, H))[0]
    error = (forecast[:, 1] - series[0].values[-H:]).abs().mean().item()
    assert error < 0.25, error  # amplitude 3; seasonal naive ~0.11; 5 seeds gave 0.06-0.11
    actual = series[0].values[-H:]
    assert ((actual >= forecast[:, 0] - 0.3) & (actual <= forecast[:, 2] + 0.3)).float().mean() >= 0.5
