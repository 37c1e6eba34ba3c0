"""Forecasting benchmark: every series of ../shared/data/timeseries, M4 protocol.

Each set's last horizon is held out (yearly 6, quarterly 8, monthly 18, weekly 13, daily
14, half-hourly 48); `rnncli train forecast` trains one model per set on the rest (every
value column a series; msft's volume left out), `rnncli forecast` continues each series,
and `rnncli eval --pred --actual` scores it with naive, seasonal naive and ETS fitted on
the same history. Prints one table (MASE, sMAPE per method, 80% coverage, training time)
and the means per frequency group and overall; writes JSON.

    python bench/bench_forecast.py                       # everything, default settings
    python bench/bench_forecast.py --sets airpassengers --train-args "--ensemble 3"
    python bench/bench_forecast.py --export              # + TorchScript/ONNX parity and speed
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import platform
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, SHARED_DATA, run_cli  # noqa: E402

sys.path.insert(0, str(ROOT))
DATA = SHARED_DATA / "timeseries"
SETS = {"airpassengers": None, "ausbeer": None, "co2_weekly": None, "msft_daily": "open,close",
        "sunspots_monthly": None, "taylor_halfhourly": None, "us_macro_quarterly": None}
METHODS = ("rnncli", "naive", "seasonal_naive", "ets")
GROUP_OF = {}   # set -> M4 group, filled as sets are read


def split(name: str, work: Path) -> tuple[Path, int, str]:
    """Write the set less its last horizon; return (train file, horizon, group)."""
    from rnncli.readers.timeseries import read_series
    from rnncli.seasons import m4_horizon

    source = DATA / f"{name}.csv"
    freq = read_series(source).freq
    horizon = m4_horizon(freq)
    with open(source, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [r for r in rows[1:] if r]
    while body and not any(cell.strip() for cell in body[-1][1:]):   # an empty last row awaits data
        body.pop()
    train = work / f"{name}.csv"
    with open(train, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header] + body[:-horizon])
    return train, horizon, freq.group


def forecast_latency(checkpoint: Path, train: Path, threads: int, repeats: int = 5) -> float:
    """Milliseconds per series of `forecast` in one process (the model loaded once): the
    median over repeats of forecasting the whole file, over its number of series."""
    import torch

    import rnncli

    torch.set_num_threads(threads)
    forecaster = rnncli.load(checkpoint, device="cpu")
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        results = forecaster.forecast(str(train))
        timings.append((time.perf_counter() - start) / len(results))
    return statistics.median(timings) * 1000


def run_set(name: str, work: Path, train_args: list[str], threads: int, export: bool = False) -> dict:
    train, horizon, group = split(name, work)
    target = ["--target", SETS[name]] if SETS[name] else []
    out = work / f"{name}.ckpt"
    _, seconds = run_cli(["train", "forecast", "--train", str(train), "--out", str(out), "--horizon", str(horizon),
                          "--quiet", *target, *train_args], threads=threads)
    pred = work / f"{name}.forecast.csv"
    run_cli(["forecast", str(out), str(train), "-o", str(pred), "--quiet"], threads=threads)
    report, _ = run_cli(["eval", "--pred", str(pred), "--actual", str(DATA / f"{name}.csv"), "--json", "--quiet",
                         *target], threads=threads)
    scored = json.loads(report)
    print(f"{name}: trained in {seconds:.1f}s", file=sys.stderr)
    figures = {"group": group, "horizon": horizon, "train_seconds": seconds,
               "forecast_ms_per_series": forecast_latency(out, train, threads), "report": scored}
    if export:   # parity and speed of both artifacts on the training file's series
        from common import export_figures

        print(f"{name}:", file=sys.stderr)
        figures["export"] = export_figures(out, train, sys.stderr)
    return figures


def nanmean(values) -> float:
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def figure(scores: dict, method: str, key: str) -> float:
    value = scores.get(method, {}).get(key)
    return math.nan if value is None else value


def summarise(results: dict) -> dict:
    rows = {}
    for name, result in results.items():
        for series, scores in result["report"]["per_series"].items():
            rows[f"{name}/{series}"] = {"group": result["group"], "horizon": result["horizon"], **scores}
    groups = {}
    for group in sorted({r["group"] for r in rows.values()}) + ["overall"]:
        members = [r for r in rows.values() if group in ("overall", r["group"])]
        groups[group] = {m: {k: nanmean([figure(r, m, k) for r in members]) for k in ("mase", "smape", "coverage_80")}
                         for m in METHODS}
    points = sum(r["horizon"] for r in rows.values())
    pooled = {m: sum(figure(r, m, "coverage_80") * r["horizon"] for r in rows.values()) / points for m in METHODS}
    return {"series": rows, "groups": groups, "coverage_80_pooled": pooled}


def print_table(summary: dict, results: dict, command: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    table = Table(title=f"rnncli forecast benchmark, {dt.date.today()}: {command}", title_justify="left")
    table.add_column("series")
    table.add_column("group")
    for m in METHODS:
        table.add_column(f"MASE {m.replace('seasonal_naive', 'snaive')}", justify="right")
    for m in METHODS:
        table.add_column(f"sMAPE {m.replace('seasonal_naive', 'snaive')}", justify="right")
    table.add_column("cov80 rnncli", justify="right")
    table.add_column("cov80 ets", justify="right")
    table.add_column("train s", justify="right")

    def cells(scores: dict) -> list[str]:
        return ([f"{figure(scores, m, 'mase'):.3f}" for m in METHODS] +
                [f"{figure(scores, m, 'smape'):.2f}" for m in METHODS] +
                [f"{figure(scores, 'rnncli', 'coverage_80'):.2f}", f"{figure(scores, 'ets', 'coverage_80'):.2f}"])

    for key, row in summary["series"].items():
        name = key.split("/")[0]
        table.add_row(key, row["group"], *cells(row), f"{results[name]['train_seconds']:.1f}")
    table.add_section()
    total = sum(r["train_seconds"] for r in results.values())
    for group, scores in summary["groups"].items():
        table.add_row(f"mean: {group}", "", *cells(scores), f"{total:.1f}" if group == "overall" else "")
    console.print(table)
    pooled = summary["coverage_80_pooled"]
    console.print("80% coverage pooled over all held-out points: " +
                  ", ".join(f"{m} {pooled[m]:.3f}" for m in METHODS))
    latency = max(r["forecast_ms_per_series"] for r in results.values())
    console.print(f"training over all sets {total:.1f} s (child processes, start-up included); "
                  f"forecast at most {latency:.1f} ms per series (median of 5, model loaded)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--train-args", default="", help="extra options for every `train forecast`")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads per process (these models are small: one thread is as fast as two)")
    parser.add_argument("--out-json", type=Path, default=ROOT / "bench" / "results" / "forecast.json")
    parser.add_argument("--export", action="store_true", help="also export each model (TorchScript and ONNX) "
                        "and report parity and speed: eager vs TorchScript vs ONNX Runtime")
    args = parser.parse_args()
    command = "python bench/bench_forecast.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = {name: run_set(name, Path(tmp), shlex.split(args.train_args), args.threads, args.export)
                   for name in args.sets.split(",")}
    summary = summarise(results)
    print_table(summary, results, command.strip())
    figures = {"command": command, "date": str(dt.date.today()), "machine": platform.processor() or platform.machine(),
               "wall_seconds": time.perf_counter() - began, **summary,
               "train_seconds": {n: r["train_seconds"] for n, r in results.items()},
               "forecast_ms_per_series": {n: r["forecast_ms_per_series"] for n, r in results.items()},
               "export": {n: r["export"] for n, r in results.items() if "export" in r}}
    args.out_json.parent.mkdir(parents=True, exist_ok=True)
    args.out_json.write_text(json.dumps(figures, indent=1, default=lambda x: None) + "\n", encoding="utf-8")
    print(f"wrote {args.out_json}", file=sys.stderr)


if __name__ == "__main__":
    main()
