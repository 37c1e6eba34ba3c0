"""Benchmark: BiLSTM-CRF NER on CoNLL-2003 under a time budget, no pretrained vectors.

    python bench/bench_tag.py [--max-time 30] [--data DIR] [--out-json bench/results/tag.json] [--export] [-- EXTRA TRAIN ARGS]

Trains `rnncli train tag` on eng.train with eng.testa for validation (best checkpoint by
testa entity F1), tags eng.testa with `rnncli tag` (timed; process start-up and model
loading measured on a one-sentence input and subtracted), and scores it with
`rnncli eval CKPT eng.testa` (seqeval strict, IOB2 after conversion from IOB1).
Prints testa F1, training and tagging sentences/s, peak RSS and wall time.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import SHARED_DATA, export_figures, peak_rss_mib, report, run_cli

# The model the benchmark trains: the `train tag` defaults, spelled out so the figures say
# what produced them (BiLSTM 100 per direction, word 100 + char CNN 50, CRF, dropout 0.5).
# CoNLL-2003 is IOB1 (the data README), but 2 of eng.train's tags contradict it, so the
# scheme is given rather than detected (detection refuses a file that mixes schemes).
MODEL_ARGS = ["--cell", "lstm", "--layers", "1", "--hidden", "100", "--embed", "100", "--char-features", "50",
              "--dropout", "0.5", "--batch-size", "32", "--lr", "2e-3", "--epochs", "1000", "--seed", "1",
              "--scheme", "iob1"]


def count_sentences(path: Path) -> int:
    blocks = path.read_text(encoding="utf-8").split("\n\n")
    return sum(1 for b in blocks if b.strip() and not b.strip().startswith("-DOCSTART-"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED_DATA / "conll2003",
                        help="folder holding eng.train and eng.testa")
    parser.add_argument("--max-time", type=float, default=30.0, help="training budget in minutes")
    parser.add_argument("--out-json", type=Path, default=Path("bench/results/tag.json"))
    parser.add_argument("--export", action="store_true", help="also export the model (TorchScript and ONNX) and report parity and speed: eager vs TorchScript vs ONNX Runtime")
    parser.add_argument("--threads", type=int, default=None, help="OMP threads (default: torch's choice)")
    parser.add_argument("extra", nargs="*", help="extra `rnncli train tag` options (after --)")
    args = parser.parse_args()

    train, testa = args.data / "eng.train", args.data / "eng.testa"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ckpt = tmp / "ckpt"
        summary, _ = run_cli(["train", "tag", "--train", str(train), "--valid", str(testa), "--out", str(ckpt),
                              "--max-time", str(args.max_time), "--json", "--quiet", *MODEL_ARGS, *args.extra],
                             threads=args.threads)
        summary = json.loads(summary)
        one = tmp / "one.conll"
        one.write_text("EU\nrejects\nGerman\ncall\n", encoding="utf-8")
        tag_args = ["--input-format", "conll", "--device", "cpu", "--batch-size", "128", "--quiet"]
        _, startup = run_cli(["tag", str(ckpt), str(one), "-o", str(tmp / "one.out"), *tag_args], threads=args.threads)
        _, tag_seconds = run_cli(["tag", str(ckpt), str(testa), "-o", str(tmp / "testa.pred"), *tag_args],
                                 threads=args.threads)
        scored, _ = run_cli(["eval", str(ckpt), str(testa), "--json", "--device", "cpu", "--scheme", "iob1"],
                            threads=args.threads)
        info, _ = run_cli(["info", str(ckpt), "--json"])
        exported = export_figures(ckpt, testa) if args.export else None
    wall = time.perf_counter() - start
    scored, info = json.loads(scored), json.loads(info)
    sentences = count_sentences(testa)
    figures = {
        "testa_f1": scored["f1"] * 100,
        "testa_precision": scored["precision"] * 100,
        "testa_recall": scored["recall"] * 100,
        "invalid_transitions_unconstrained": scored["invalid_transitions"],
        "train_sentences_per_s": summary["sentences"] / summary["seconds"],
        "train_steps": summary["steps"],
        "train_seconds": summary["seconds"],
        "best_step": summary["best_step"],
        "stop_reason": summary["reason"],
        "tag_sentences_per_s": sentences / max(1e-9, tag_seconds - startup),
        "tag_sentences_per_s_with_startup": sentences / tag_seconds,
        "testa_sentences": sentences,
        "parameters": info.get("parameters"),
        "peak_rss_mib": peak_rss_mib(),
        "wall_seconds": wall,
        "max_time_minutes": args.max_time,
        "per_type_f1": {name: row["f1"] * 100 for name, row in scored["per_type"].items()},
        "train_args": MODEL_ARGS + args.extra,
        "data": str(args.data),
    }
    if exported is not None:
        figures["export"] = exported
    report("rnncli bench: BiLSTM-CRF NER on CoNLL-2003 (testa)", figures, args.out_json)


if __name__ == "__main__":
    main()
