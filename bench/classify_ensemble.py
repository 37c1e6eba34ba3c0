"""SST-2: K default classifiers (seeds 1..K) and the accuracy of their averaged probabilities (not a test).

    .venv/bin/python bench/classify_ensemble.py [--members 5] [--threads 2] [--work /tmp/sst2-ensemble] [-- TRAIN OPTIONS]

Trains each member with `rnncli train classify` (its defaults, early stopping included) on
SST-2 train with dev for validation, then prints each member's dev accuracy and that of the
mean of the first 1..K members' dev probabilities (at each checkpoint's temperature).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "sst2")
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sst2-ensemble"))
    parser.add_argument("extra", nargs="*", help="extra `rnncli train classify` options (after --)")
    args = parser.parse_args()
    started = time.monotonic()
    for seed in range(1, args.members + 1):
        began = time.monotonic()
        subprocess.run([sys.executable, "-m", "rnncli", "train", "classify", "--train", str(args.data / "train.tsv"),
                        "--valid", str(args.data / "dev.tsv"), "--out", str(args.work / f"seed{seed}"),
                        "--seed", str(seed), "--threads", str(args.threads), "--quiet", "--overwrite", *args.extra],
                       check=True)
        print(f"seed {seed}: trained in {time.monotonic() - began:.1f} s", flush=True)

    import torch

    from rnncli.api import load

    with open(args.data / "dev.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    texts, gold = [r["sentence"] for r in rows], [r["label"] for r in rows]
    probabilities, labels = [], None

    def accuracy(p: torch.Tensor) -> float:
        return 100 * sum(labels[i] == g for i, g in zip(p.argmax(1).tolist(), gold)) / len(gold)

    for seed in range(1, args.members + 1):
        member = load(args.work / f"seed{seed}", "cpu")
        # every member reads the same train file, so its label order is the same
        labels = labels or member.labels
        assert member.labels == labels, "members disagree on the label order"
        probabilities.append(member.predict(texts))
        print(f"seed {seed}: dev accuracy {accuracy(probabilities[-1]):.2f}; mean of {len(probabilities)} "
              f"members {accuracy(torch.stack(probabilities).mean(0)):.2f}", flush=True)
    print(f"total {time.monotonic() - started:.1f} s")


if __name__ == "__main__":
    main()
