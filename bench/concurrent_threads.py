"""Two trainings at once on one machine: rnncli's default thread count against one and
two threads each (not a test). Each round starts two `measure_translate_speed.py` probes
together and reads the training target tokens/s each reports; the modes alternate within
a repeat, so the machine's drift falls on all of them alike.

    .venv/bin/python bench/concurrent_threads.py --repeats 2 --steps 60 --encoder-hidden 128

Modes: `default` (no --threads, OMP_NUM_THREADS unset: each probe picks its threads as
every rnncli command does, from the CPU affinity and the load of other processes),
`1` and `2` (forced with --threads). Prints per-process figures, the medians per mode and
the load average before each round; writes JSON with --out-json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "bench" / "measure_translate_speed.py"
LINE = re.compile(r"train \((\d+) threads, ([\w-]+)\):.*?([\d,]+) tokens/s wall")


def run_pair(mode: str, args: argparse.Namespace) -> list[dict]:
    """Start two probes together; (threads, source, tokens/s) of each."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    command = [sys.executable, str(PROBE), "--steps", str(args.steps), "--data", str(args.data)]
    if args.encoder_hidden:
        command += ["--encoder-hidden", str(args.encoder_hidden)]
    if mode != "default":
        command += ["--threads", mode]
    load = os.getloadavg()[0]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
             for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate()
        found = LINE.search(out)
        if proc.returncode != 0 or not found:
            raise SystemExit(f"probe failed ({proc.returncode}): {err.strip()[-500:]}")
        results.append({"mode": mode, "threads": int(found[1]), "source": found[2],
                        "tokens_per_s": int(found[3].replace(",", "")), "load_before": round(load, 2)})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "multi30k")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--encoder-hidden", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--modes", default="default,1,2", help="comma-separated: default and thread counts")
    parser.add_argument("--out-json", type=Path, default=None)
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    rows = []
    for repeat in range(args.repeats):
        for mode in modes:
            pair = run_pair(mode, args)
            for process, row in enumerate(pair):
                row.update(repeat=repeat, process=process)
                print(f"repeat {repeat} mode {mode:>7}: process {process}: {row['threads']} threads "
                      f"({row['source']}), {row['tokens_per_s']:,} tokens/s, load before {row['load_before']}",
                      flush=True)
            rows.extend(pair)
            time.sleep(2)
    print(f"\n{'mode':>8} {'threads':>8} {'median tokens/s per process':>28} {'median sum of the pair':>23}")
    summary = {}
    for mode in modes:
        mine = [r for r in rows if r["mode"] == mode]
        sums = [sum(r["tokens_per_s"] for r in mine if r["repeat"] == k) for k in range(args.repeats)]
        threads = sorted({r["threads"] for r in mine})
        summary[mode] = {"threads": threads, "median_per_process": statistics.median(r["tokens_per_s"] for r in mine),
                         "median_pair_sum": statistics.median(sums)}
        print(f"{mode:>8} {','.join(map(str, threads)):>8} {summary[mode]['median_per_process']:>28,.0f} "
              f"{summary[mode]['median_pair_sum']:>23,.0f}")
    if args.out_json:
        args.out_json.write_text(json.dumps({"rows": rows, "summary": summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
