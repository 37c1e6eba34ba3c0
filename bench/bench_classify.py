"""Benchmark: SST-2 classification within a time budget (not a test).

Trains the default classifier on SST-2 train.tsv for --max-time minutes (the same task
function `rnncli train classify` runs), then reports dev accuracy of the best
checkpoint, training sentences/s, classification sentences/s over dev.tsv (model loaded,
text in -> output lines out, as `rnncli classify` does it), the wall time of the
`rnncli classify` command itself, and peak RSS. Prints a rich table and writes JSON.

    .venv/bin/python bench/bench_classify.py                  # 10 minutes, the target run
    .venv/bin/python bench/bench_classify.py --max-time 1     # a quick check
    .venv/bin/python bench/bench_classify.py --set hidden=256 --set pooling=mean
    .venv/bin/python bench/bench_classify.py --max-time 1 --export   # + TorchScript/ONNX parity and speed

Targets (2 CPU cores): dev accuracy >= 84.0%, classification >= 2,000 sentences/s.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data",
                        help="folder holding sst2/train.tsv and sst2/dev.tsv")
    parser.add_argument("--max-time", type=float, default=10.0, help="training budget in minutes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "runs" / "bench-classify",
                        help="checkpoint directory (replaced)")
    parser.add_argument("--out-json", type=Path, default=ROOT / "bench" / "results" / "classify.json")
    parser.add_argument("--export", action="store_true", help="also export the model (TorchScript and ONNX) and report parity and speed: eager vs TorchScript vs ONNX Runtime")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads (0: torch's default, one per core)")
    parser.add_argument("--set", action="append", default=[], metavar="OPTION=VALUE",
                        help="override a training option (as in the TOML config), e.g. hidden=256")
    return parser.parse_args()


def overrides(pairs: list[str]) -> dict:
    values = {}
    for pair in pairs:
        key, _, raw = pair.partition("=")
        try:
            values[key.strip().replace("-", "_")] = json.loads(raw)
        except ValueError:
            values[key.strip().replace("-", "_")] = raw
    return values


def train(args, train_path: Path, dev_path: Path) -> dict:
    from rnncli.api import train_events
    from rnncli.training import Evaluated, Finished, StepDone

    shutil.rmtree(args.out_dir, ignore_errors=True)
    given = {"max_time": args.max_time, "seed": args.seed, "train": train_path, "valid": dev_path,
             "out": args.out_dir, **overrides(args.set)}
    speeds, curve, finished, last_speed = [], [], None, None
    started = time.monotonic()
    _, events = train_events("classify", given)
    for event in events:
        if isinstance(event, StepDone):
            last_speed = event.units_per_s   # a short run may end before step 50
            if event.step % 50 == 0:
                speeds.append(event.units_per_s)
        elif isinstance(event, Evaluated):
            curve.append({"step": event.step, "minutes": round((time.monotonic() - started) / 60, 2),
                          "accuracy": round(event.metrics["accuracy"], 4)})
            print(f"  step {event.step:>6}  {curve[-1]['minutes']:5.2f} min  dev accuracy "
                  f"{event.metrics['accuracy']:.4f}", file=sys.stderr, flush=True)
        elif isinstance(event, Finished):
            finished = event
    return {"train_seconds": round(time.monotonic() - started, 1), "steps": finished.step,
            "stop_reason": finished.reason, "best_step": finished.best_step,
            "train_sentences_per_s": round(statistics.median(speeds) if speeds else last_speed or 0.0, 1),
            "curve": curve}


def classify_speed(ckpt: Path, dev_path: Path) -> dict:
    """Sentences/s of the classify pipeline on dev.tsv, model already loaded (best of 3)."""
    from rnncli.readers.labelled import InputRows
    from rnncli.readers.text import iter_lines
    from rnncli.api import load
    from rnncli.tasks.classify_output import classify_chunk

    loaded = load(ckpt)
    lines = list(iter_lines(dev_path))
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        output = classify_chunk(loaded, InputRows("tsv", str(dev_path)), lines, "tsv", 1, 256)
        timings.append(time.perf_counter() - started)
    sentences = len(lines) - 1
    assert len(output) == len(lines)
    started = time.perf_counter()
    import os

    import torch

    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    subprocess.run([sys.executable, "-m", "rnncli", "classify", str(ckpt), str(dev_path), "--input-format", "tsv",
                    "--quiet"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL, env=env)
    command_wall = time.perf_counter() - started
    return {"classify_sentences": sentences, "classify_sentences_per_s": round(sentences / min(timings), 1),
            "classify_command_wall_s": round(command_wall, 2)}


def render(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"SST-2 classification, --max-time {result['max_time_minutes']:g} min", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_row("dev accuracy", f"{result['dev_accuracy'] * 100:.2f}%", ">= 84.00%")
    table.add_row("dev macro F1", f"{result['dev_macro_f1'] * 100:.2f}%", "")
    table.add_row("training sentences/s", f"{result['train_sentences_per_s']:,.0f}", "")
    table.add_row("classification sentences/s", f"{result['classify_sentences_per_s']:,.0f}", ">= 2,000")
    table.add_row("`rnncli classify` dev.tsv wall", f"{result['classify_command_wall_s']:.2f} s", "")
    table.add_row("training wall / steps", f"{result['train_seconds']:.0f} s / {result['steps']:,}", "")
    table.add_row("peak RSS", f"{result['peak_rss_mib']:,.0f} MiB", "")
    table.add_row("total wall", f"{result['wall_seconds']:.0f} s", "")
    Console(stderr=True).print(table)


def main() -> None:
    args = parse_args()
    started = time.monotonic()
    train_path, dev_path = args.data / "sst2" / "train.tsv", args.data / "sst2" / "dev.tsv"
    for path in (train_path, dev_path):
        if not path.is_file():
            sys.exit(f"bench_classify: {path} not found (give --data)")
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from rnncli.atomic import atomic_write_text
    from rnncli.api import evaluate

    result = {"benchmark": "classify/sst2", "max_time_minutes": args.max_time, "threads": torch.get_num_threads(),
              "options": overrides(args.set)}
    result.update(train(args, train_path, dev_path))
    report = evaluate(args.out_dir, [dev_path])
    result.update({"dev_accuracy": round(report["accuracy"], 4), "dev_macro_f1": round(report["macro_f1"], 4)})
    result.update(classify_speed(args.out_dir, dev_path))
    if args.export:
        from common import export_figures   # bench/ is sys.path[0] when run as a script

        result["export"] = export_figures(args.out_dir, dev_path, sys.stderr)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    render(result)
    atomic_write_text(args.out_json, json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=2))


if __name__ == "__main__":
    main()
