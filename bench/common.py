"""Shared helpers for the benchmarks: run a command as a child process and measure it.

Benchmarks are not tests: they print a table and write JSON. Each runs the real CLI in a
child process, so wall time and peak RSS (of the largest child) are what a user would see.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"


def run_cli(args: list[str], stdin: str | None = None, threads: int | None = None) -> tuple[str, float]:
    """Run `python -m rnncli ARGS`; return (stdout, seconds). Fails loudly on a non-zero exit."""
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rnncli", *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"command failed ({proc.returncode}): rnncli {' '.join(args)}")
    return proc.stdout, seconds


def peak_rss_mib() -> float:
    """Peak resident memory of the largest child process so far, in MiB (Linux: KiB units)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def report(title: str, figures: dict, out_json: Path) -> None:
    """Print a rich table of the figures and write them as JSON."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in figures.items():
        if isinstance(value, (dict, list)):
            continue
        table.add_row(key, f"{value:,.4f}" if isinstance(value, float) else str(value))
    Console().print(table)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out_json}", file=sys.stderr)
