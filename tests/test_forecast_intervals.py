"""Intervals widened from the series' past (tasks/forecast_intervals.py): a hand-computed
case, a plain-loop reference, the union with the network's band, and the CLI option."""

from __future__ import annotations

import csv
import io

import pytest
import torch

from conftest import DATA
from rnncli.tasks.forecast_intervals import MIN_ORIGINS, history_offsets, widen

LEVELS = torch.tensor([0.1, 0.5, 0.9])
TINY = ["--hidden", "8", "--epochs", "1", "--steps-per-epoch", "8", "--batch-size", "16", "--quiet"]


def test_alternating_series_by_hand():
    """10, 12, 10, ... (21 values), naive, one step: errors +2/10 after a 10 and -2/12 after
    a 12, ten of each; median 1/60, 10% and 90% quantiles -1/6 and 0.2; centred and scaled
    by the last level (10): -11/6 and +11/6."""
    values = torch.tensor([10.0 if t % 2 == 0 else 12.0 for t in range(21)])
    offsets = history_offsets(values, horizon=1, period=1, levels=LEVELS)
    assert offsets.shape == (1, 3)
    assert offsets[0].tolist() == pytest.approx([-11 / 6, 0.0, 11 / 6], abs=1e-6)


def reference_offsets(values: list[float], horizon: int, period: int, levels: list[float]):
    """The definition, one origin at a time."""
    lag, context = max(1, period), max(max(1, period), horizon)
    errors = []
    for origin in range(context, len(values) - horizon + 1):
        level = sum(abs(v) for v in values[origin - context:origin]) / context
        errors.append([(values[origin + j] - values[origin - lag + j % lag]) / level for j in range(horizon)])
    table = torch.tensor(errors, dtype=torch.float64)
    median = torch.quantile(table, 0.5, dim=0)
    current = sum(abs(v) for v in values[-context:]) / context
    return [[(torch.quantile(table[:, j], q) - median[j]).item() * current for q in levels] for j in range(horizon)]


@pytest.mark.parametrize("period,horizon", [(1, 3), (4, 2), (12, 6), (3, 7)])
def test_matches_a_plain_loop(period, horizon):
    generator = torch.Generator().manual_seed(period * 10 + horizon)
    values = (50 + torch.arange(80.0) + 5 * torch.randn(80, generator=generator)).tolist()
    got = history_offsets(torch.tensor(values), horizon, period, LEVELS)
    expected = reference_offsets(values, horizon, period, LEVELS.tolist())
    assert got.flatten().tolist() == pytest.approx([x for row in expected for x in row], rel=1e-5, abs=1e-6)


def test_too_short_a_history_leaves_the_network_band():
    horizon, period = 3, 4
    short = torch.arange(1.0, 1 + max(period, horizon) + horizon + MIN_ORIGINS - 2)
    assert history_offsets(short, horizon, period, LEVELS) is None
    assert history_offsets(torch.cat([short, torch.tensor([99.0])]), horizon, period, LEVELS) is not None
    assert history_offsets(torch.zeros(60), horizon, period, LEVELS) is None   # no level to scale by
    rows = torch.tensor([[1.0, 2.0, 3.0]])
    assert torch.equal(widen(rows, None, 1), rows)


def test_widen_is_the_union_around_the_median():
    rows = torch.tensor([[99.0, 100.0, 101.0], [90.0, 100.0, 110.0]])
    offsets = torch.tensor([[-2.0, 0.0, 3.0], [-2.0, 0.0, 3.0]])
    out = widen(rows, offsets, median=1)
    assert out.tolist() == [[98.0, 100.0, 103.0], [90.0, 100.0, 110.0]]


def forecast_rows(cli, checkpoint):
    result = cli("forecast", checkpoint, DATA / "forecast" / "monthly.csv")
    assert result.code == 0, result.err
    return list(csv.DictReader(io.StringIO(result.out)))


def test_history_intervals_contain_the_networks_with_the_same_median(cli, tmp_path):
    from rnncli.cli.app import run

    monthly = DATA / "forecast" / "monthly.csv"
    outs = {}
    for mode in ("history", "model"):
        outs[mode] = tmp_path / mode
        assert run(["train", "forecast", "--train", str(monthly), "--out", str(outs[mode]), "--horizon", "6",
                    "--intervals", mode, *TINY], False) == 0
    wide, narrow = forecast_rows(cli, outs["history"]), forecast_rows(cli, outs["model"])
    assert [r["forecast"] for r in wide] == [r["forecast"] for r in narrow]
    assert all(float(w["q0.1"]) <= float(n["q0.1"]) and float(w["q0.9"]) >= float(n["q0.9"])
               for w, n in zip(wide, narrow))
    assert any(float(w["q0.9"]) > float(n["q0.9"]) for w, n in zip(wide, narrow))
