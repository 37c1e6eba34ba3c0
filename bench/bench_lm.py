"""Benchmark: character LM on Tiny Shakespeare under a time budget.

    python bench/bench_lm.py [--max-time 20] [--data PATH] [--out-json bench/results/lm.json] [--export] [-- EXTRA TRAIN ARGS]

Splits the corpus as nanoGPT does (first 90% of characters train, last 10% validation),
trains with `rnncli train lm --max-time`, then scores the best checkpoint with
`rnncli eval`. Prints validation nats/char, training characters/s, peak RSS and wall time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import SHARED_DATA, export_figures, peak_rss_mib, report, run_cli

# The model the benchmark trains (chosen by measurement; see README for the figures).
# Small batches won: at equal tokens, 16 x 128 beat 32 x 128 and 64 x 128 (more updates).
MODEL_ARGS = ["--tokenizer", "char", "--cell", "lstm", "--layers", "1", "--hidden", "512", "--embed", "64",
              "--dropout", "0.1", "--batch-size", "16", "--seq-len", "128", "--lr", "2e-3",
              "--eval-every", "1000", "--epochs", "1000"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "tinyshakespeare" / "input.txt")
    parser.add_argument("--max-time", type=float, default=20.0, help="training budget in minutes")
    parser.add_argument("--out-json", type=Path, default=Path("bench/results/lm.json"))
    parser.add_argument("--export", action="store_true", help="also export the model (TorchScript and ONNX) and report parity and speed: eager vs TorchScript vs ONNX Runtime")
    parser.add_argument("--threads", type=int, default=None, help="OMP threads (default: torch's choice)")
    parser.add_argument("extra", nargs="*", help="extra `rnncli train lm` options (after --)")
    args = parser.parse_args()

    text = args.data.read_text(encoding="utf-8")
    cut = int(len(text) * 0.9)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "train.txt").write_text(text[:cut], encoding="utf-8")
        (tmp / "valid.txt").write_text(text[cut:], encoding="utf-8")
        ckpt = tmp / "ckpt"
        start = time.perf_counter()
        summary, train_seconds = run_cli(["train", "lm", "--train", str(tmp / "train.txt"), "--valid",
                                          str(tmp / "valid.txt"), "--out", str(ckpt), "--max-time",
                                          str(args.max_time), "--json", "--quiet", *MODEL_ARGS, *args.extra],
                                         threads=args.threads)
        summary = json.loads(summary)
        scored, _ = run_cli(["eval", str(ckpt), str(tmp / "valid.txt"), "--json"], threads=args.threads)
        wall = time.perf_counter() - start
        info, _ = run_cli(["info", str(ckpt), "--json"])
        exported = export_figures(ckpt, tmp / "valid.txt") if args.export else None
    scored, info = json.loads(scored), json.loads(info)
    figures = {
        "valid_nats_per_char": scored["nats_per_char"],
        "valid_bits_per_char": scored["bits_per_char"],
        "train_chars_per_s": summary["tokens"] / summary["seconds"],
        "train_steps": summary["steps"],
        "train_seconds": summary["seconds"],
        "stop_reason": summary["reason"],
        "parameters": info["parameters"],
        "peak_rss_mib": peak_rss_mib(),
        "wall_seconds": wall,
        "max_time_minutes": args.max_time,
        "train_args": MODEL_ARGS + args.extra,
        "data": str(args.data),
    }
    if exported is not None:
        figures["export"] = exported
    report("rnncli bench: char LM on Tiny Shakespeare", figures, args.out_json)


if __name__ == "__main__":
    main()
