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


def load_average() -> str:
    """/proc/loadavg's three figures: the benchmarks share the machine, so say how busy it was."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())


def export_figures(checkpoint, check_file=None, stream=None) -> dict:
    """--export: parity and speed of the TorchScript and ONNX artifacts (rnncli/export),
    with the date and the load average around the measurement; printed as a table too."""
    import datetime as dt

    sys.path.insert(0, str(ROOT))
    from rnncli.export import export_benchmark

    before = load_average()
    figures = export_benchmark(checkpoint, check_file)
    figures.update({"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                    "loadavg_before": before, "loadavg_after": load_average()})
    print_export(figures, stream or sys.stdout)
    return figures


def print_export(figures: dict, stream) -> None:
    """One line per format: exact-output match, largest difference, eager vs exported speed
    (at the export's own check, and warm: checked again after one untimed pass)."""
    print(f"export parity and speed ({figures['date']}; load average {figures['loadavg_before']} before, "
          f"{figures['loadavg_after']} after; the CPU is shared, timings are noisy):", file=stream)
    for fmt in ("torchscript", "onnx"):
        p = figures.get(fmt, {})
        if "error" in p:
            print(f"  {fmt:<11}  failed: {p['error']}", file=stream)
            continue
        warm = p["warm"]
        print(f"  {fmt:<11}  {p['matched']:,}/{p['total']:,} {p['units']} match ({100 * p['match_rate']:.2f}%), "
              f"largest {p['diff_of']} difference {p['max_diff']:.3g}, {p['items']} items; {p['speed_unit']}: "
              f"eager {p['rnncli_per_s']} vs {fmt} {p['exported_per_s']} (warm: eager {warm['rnncli_per_s']} "
              f"vs {fmt} {warm['exported_per_s']}, match {100 * warm['match_rate']:.2f}%)", file=stream, flush=True)
