"""Research probe for the forecaster: which decoder, scaling and settings beat the baselines.

Protocol (the issue's): every series of ../shared/data/timeseries (each value column of a
multi-column set a series; msft's volume left out), the last horizon held out (M4: yearly
6, quarterly 8, monthly 18, weekly 13, daily 14, half-hourly 48), one global model trained
per set on everything before the held-out part, scored by MASE (in-sample seasonal naive
scale), sMAPE and 80% interval coverage against naive, seasonal naive and ETS.

    python bench/forecast_probe.py                         # the default variants
    python bench/forecast_probe.py --variants rnn,direct --steps 600 --sets airpassengers
    python bench/forecast_probe.py --list                  # the variants it knows

Its own small training loop (AdamW, cosine decay, gradient clipping), no rnncli trainer.
Prints a per-series table, per-group and overall means, training seconds; writes JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rnncli.baselines import ets, naive, seasonal_naive  # noqa: E402
from rnncli.core.windows import SeriesTensors, last_windows, sample_ends, window_batch  # noqa: E402
from rnncli.metrics.forecast import nanmean, score_series  # noqa: E402
from rnncli.models.forecaster import DEFAULT_CONTEXT, Forecaster, ForecasterConfig  # noqa: E402
from rnncli.readers.timeseries import read_series  # noqa: E402
from rnncli.seasons import calendar_features, m4_horizon, season_index, seasonal_period  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "timeseries"
SETS = {"airpassengers": None, "ausbeer": None, "co2_weekly": None, "msft_daily": ["open", "close"],
        "sunspots_monthly": None, "taylor_halfhourly": None, "us_macro_quarterly": None}
CONTEXT = DEFAULT_CONTEXT
QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class Variant:
    """One model recipe: the ForecasterConfig fields it sets and how it is trained."""

    model: dict = field(default_factory=dict)
    steps: int = 800
    batch: int = 64
    lr: float = 3e-3
    seeds: int = 1                # an ensemble: quantiles averaged over this many seeds
    context: dict = field(default_factory=dict)   # overrides of CONTEXT by group
    season_embedding: bool = True
    mixture: bool = False         # seeds pooled as a mixture (wider), not quantiles averaged


VARIANTS = {
    "rnn": Variant(dict(decoder="rnn")),
    "direct": Variant(dict(decoder="direct")),
    "rnn-meanabs": Variant(dict(decoder="rnn", scaling="mean-abs", baseline="none")),
    "rnn-seasonal": Variant(dict(decoder="rnn", baseline="seasonal")),
    "direct-seasonal": Variant(dict(decoder="direct", baseline="seasonal")),
    "rnn-meanabs-seasonal": Variant(dict(decoder="rnn", scaling="mean-abs")),
    "ma": Variant(dict(decoder="rnn", scaling="mean-abs")),
    "lv": Variant(dict(decoder="rnn", scaling="level")),
    "ma-direct": Variant(dict(decoder="direct", scaling="mean-abs")),
    "lv-direct": Variant(dict(decoder="direct", scaling="level")),
    "rnn-nobase": Variant(dict(decoder="rnn", baseline="none")),
    "direct-nobase": Variant(dict(decoder="direct", baseline="none")),
    "rnn-gru": Variant(dict(decoder="rnn", cell="gru")),
    "rnn-h32": Variant(dict(decoder="rnn", hidden=32)),
    "rnn-h128": Variant(dict(decoder="rnn", hidden=128)),
    "rnn-long": Variant(dict(decoder="rnn"), steps=1600),
    "rnn-x3": Variant(dict(decoder="rnn"), seeds=3),
    "rnn-x3mix": Variant(dict(decoder="rnn"), seeds=3, mixture=True),
    "rnn-ctx2": Variant(dict(decoder="rnn"), context={g: 2 * c for g, c in CONTEXT.items()}),
    "rnn-ctxlong": Variant(dict(decoder="rnn"), context={"quarterly": 40, "daily": 250}),
    "direct-x3": Variant(dict(decoder="direct"), seeds=3),
}


@dataclass
class SetData:
    name: str
    group: str
    period: int
    horizon: int
    names: list[str]
    train: list[SeriesTensors]      # values before the held-out part; calendar through it
    insample: list[list[float]]
    actual: list[list[float]]
    calendar: int
    seasons: int


def load_set(name: str, data: Path) -> SetData:
    series_set = read_series(data / f"{name}.csv", target=SETS[name])
    freq = series_set.freq
    period, horizon = seasonal_period(freq), m4_horizon(freq)
    train, insample, actual, names = [], [], [], []
    for number, series in enumerate(series_set.series, start=1):
        values = list(series.values)
        positions = list(series.index.positions)
        calendar = torch.tensor(calendar_features(positions, freq), dtype=torch.float32)
        season = torch.tensor(season_index(positions, freq), dtype=torch.long)
        head = torch.tensor(values[:-horizon], dtype=torch.float32)
        train.append(SeriesTensors(head, calendar if calendar.numel() else None, season, None, number))
        insample.append(values[:-horizon])
        actual.append(values[-horizon:])
        names.append(series.name)
    width = train[0].calendar.size(1) if train[0].calendar is not None else 0
    return SetData(name, freq.group, period, horizon, names, train, insample, actual, width, period)


def baseline_forecasts(data: SetData) -> dict[str, list]:
    """Each baseline's quantile rows per series (steps x quantiles)."""
    out: dict[str, list] = {"naive": [], "snaive": [], "ets": []}
    for y in data.insample:
        for key, forecast in (("naive", naive(y, data.horizon, QUANTILES)),
                              ("snaive", seasonal_naive(y, data.horizon, data.period, QUANTILES)),
                              ("ets", ets(y, data.horizon, data.period, QUANTILES))):
            out[key].append([list(row) for row in forecast.quantile_forecasts])
    return out


def make_config(variant: Variant, data: SetData) -> ForecasterConfig:
    context = variant.context.get(data.group, CONTEXT.get(data.group, 24))
    seasons = data.seasons if variant.season_embedding and data.seasons > 1 else 0
    return ForecasterConfig(horizon=data.horizon, context=context, quantiles=QUANTILES,
                            calendar=data.calendar, seasons=seasons, num_series=len(data.train),
                            period=data.period, **variant.model)


def train_model(config: ForecasterConfig, variant: Variant, data: SetData, seed: int) -> Forecaster:
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = Forecaster(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=variant.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=variant.lr, total_steps=variant.steps,
                                                   pct_start=0.1)
    model.train()
    for _ in range(variant.steps):
        ends = sample_ends(data.train, config.context, config.horizon, variant.batch, generator)
        loss = model.loss(window_batch(data.train, ends, config.context, config.horizon))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
    return model


def run_variant(variant: Variant, data: SetData) -> tuple[list, float, float]:
    """(quantile rows per series, training seconds, milliseconds to forecast one series)."""
    config = make_config(variant, data)
    start = time.perf_counter()
    models = [train_model(config, variant, data, seed) for seed in range(variant.seeds)]
    seconds = time.perf_counter() - start
    batch = last_windows(data.train, config.context, config.horizon)
    stacked = torch.stack([m.predict(batch) for m in models])
    predictions = mixture(stacked, QUANTILES) if variant.mixture else stacked.mean(0)
    one = last_windows(data.train[:1], config.context, config.horizon)
    start = time.perf_counter()
    for _ in range(5):
        for m in models:
            m.predict(one)
    milliseconds = (time.perf_counter() - start) / 5 * 1000
    return predictions.tolist(), seconds, milliseconds


def mixture(stacked: torch.Tensor, quantiles: tuple[float, ...]) -> torch.Tensor:
    """(K, B, H, Q) quantiles of K seeds -> (B, H, Q) of their equal mixture, treating each
    as normal-like: the median is the seeds' mean median, and each gap from it widens
    with the seeds' disagreement, gap' = sqrt(gap^2 + (z_q * sd of medians)^2)."""
    from statistics import NormalDist

    middle = quantiles.index(0.5)
    medians = stacked[..., middle]
    centre, spread = medians.mean(0), medians.std(0, unbiased=False)
    columns = []
    for j, q in enumerate(quantiles):
        gap = (stacked[..., j] - medians).mean(0)
        z = NormalDist().inv_cdf(q)
        columns.append(centre + gap.sign() * torch.sqrt(gap ** 2 + (z * spread) ** 2))
    return torch.stack(columns, -1)


def select_by_validation(candidates: dict[str, Variant], data: SetData) -> tuple[str, dict, float]:
    """Train each variant on the series less their last horizon, score that horizon (mean
    MASE over the set's series), and return the winner, every score, and the seconds spent."""
    start = time.perf_counter()
    horizon = data.horizon
    prefix = replace(data, train=[replace(s, values=s.values[:-horizon]) for s in data.train],
                     insample=[y[:-horizon] for y in data.insample],
                     actual=[y[-horizon:] for y in data.insample])
    found = {}
    for name, variant in candidates.items():
        rows, _, _ = run_variant(variant, prefix)
        found[name] = nanmean([s["mase"] for s in scores(prefix, rows)])
    return min(found, key=found.get), found, time.perf_counter() - start


def scores(data: SetData, rows_per_series: list) -> list[dict]:
    out = []
    for y, insample, rows in zip(data.actual, data.insample, rows_per_series):
        point = [row[QUANTILES.index(0.5)] for row in rows]
        out.append(score_series(y, point, insample, data.period, rows, QUANTILES))
    return out


def combine(a: list, b: list) -> list:
    """The mean of two forecasts' quantile rows, series by series."""
    return [[[(x + y) / 2 for x, y in zip(ra, rb)] for ra, rb in zip(sa, sb)] for sa, sb in zip(a, b)]


def print_tables(results: dict, methods: list[str]) -> None:
    width = max(12, *(len(m) for m in methods))
    for metric in ("mase", "smape", "coverage_80"):
        print(f"\n== {metric} per series")
        print(f"{'series':32s} {'group':10s} " + " ".join(f"{m:>{width}s}" for m in methods))
        for key, row in results["series"].items():
            print(f"{key:32s} {row['group']:10s} " + " ".join(f"{row[m][metric]:{width}.3f}" for m in methods))
        print(f"\n== {metric}: mean per group (series), overall")
        for group, row in results["groups"].items():
            print(f"{group:43s} " + " ".join(f"{row[m][metric]:{width}.3f}" for m in methods))
    print("\n== coverage_80 pooled over all held-out points")
    print(" ".join(f"{m}={row['coverage_80_pooled']:.3f}" for m, row in results["groups"]["overall"].items()))
    print("\n== training seconds per set (all seeds), forecast ms per series")
    for name, row in results["timing"].items():
        print(f"{name:24s} " + "  ".join(f"{v}: {t[0]:6.1f}s {t[1]:5.1f}ms" for v, t in row.items()))


def summarise(per_series: dict, methods: list[str]) -> dict:
    groups: dict[str, dict] = {}
    for group in sorted({row["group"] for row in per_series.values()}) + ["overall"]:
        rows = [r for r in per_series.values() if group in ("overall", r["group"])]
        groups[group] = {m: {k: nanmean([r[m][k] for r in rows]) for k in ("mase", "smape", "coverage_80")}
                         for m in methods}
    # pooled coverage over points (series of a group have equal horizons, so only overall differs)
    points = sum(r["horizon"] for r in per_series.values())
    for m in methods:
        groups["overall"][m]["coverage_80_pooled"] = sum(
            r[m]["coverage_80"] * r["horizon"] for r in per_series.values()) / points
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--variants", default="rnn,direct")
    parser.add_argument("--steps", type=int, help="override every variant's training steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--select", help="two or more variants (already in --variants) to choose "
                                         "between per set by their error on the last horizon "
                                         "before the held-out part; adds a 'select' method")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "forecast_probe.json")
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args()
    if args.list:
        for name, variant in VARIANTS.items():
            print(f"{name:16s} {variant}")
        return
    torch.set_num_threads(args.threads)
    variants = {name: VARIANTS[name] for name in args.variants.split(",")}
    if args.steps:
        variants = {name: replace(v, steps=args.steps) for name, v in variants.items()}
    names = list(variants)
    pairs = [f"{a}&{b}" for i, a in enumerate(names) for b in names[i + 1:]]
    methods = ["naive", "snaive", "ets", *variants, *(f"{v}+ets" for v in variants), *pairs]
    if args.select:
        methods.append("select")
    per_series: dict[str, dict] = {}
    timing: dict[str, dict] = {}
    began = time.perf_counter()
    for name in args.sets.split(","):
        data = load_set(name, args.data)
        forecasts = baseline_forecasts(data)
        timing[name] = {}
        for vname, variant in variants.items():
            rows, seconds, ms = run_variant(variant, data)
            forecasts[vname] = rows
            forecasts[f"{vname}+ets"] = combine(rows, forecasts["ets"])
            timing[name][vname] = (seconds, ms)
            print(f"{name}: {vname} trained in {seconds:.1f}s", file=sys.stderr)
        for pair in pairs:  # two variants' quantiles averaged: an ensemble of recipes
            a, b = pair.split("&")
            forecasts[pair] = combine(forecasts[a], forecasts[b])
        if args.select:
            chosen, found, seconds = select_by_validation(
                {n: variants[n] for n in args.select.split(",")}, data)
            forecasts["select"] = forecasts[chosen]
            timing[name]["select"] = (seconds + timing[name][chosen][0], timing[name][chosen][1])
            print(f"{name}: select chose {chosen} ({found})", file=sys.stderr)
        scored = {m: scores(data, forecasts[m]) for m in methods}
        for index, series in enumerate(data.names):
            per_series[f"{name}/{series}"] = {"group": data.group, "horizon": data.horizon,
                                              **{m: scored[m][index] for m in methods}}
    results = {"series": per_series, "groups": summarise(per_series, methods), "timing": timing,
               "variants": {n: repr(v) for n, v in variants.items()},
               "wall_seconds": time.perf_counter() - began}
    print_tables(results, methods)
    print(f"\nwall time {results['wall_seconds']:.0f}s")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=1, default=lambda x: None if isinstance(x, float)
                                    and math.isnan(x) else x) + "\n", encoding="utf-8")
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
