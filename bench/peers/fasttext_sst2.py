"""fastText's side of the SST-2 comparison (run by run_peers.py, in the peers' venv).

    /tmp/rnncli-peers/venv/bin/python bench/peers/fasttext_sst2.py --data ../shared/data/sst2 --work DIR

Trains `fasttext.train_supervised` on train.tsv (converted to fastText's `__label__` lines in
--work, outside the repository), scores dev.tsv, and times prediction of dev.tsv with the
model loaded (best of 3, as bench/bench_classify.py times rnncli). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def read_tsv(path: Path) -> list[tuple[str, str]]:
    rows = path.read_text(encoding="utf-8").splitlines()
    header = rows[0].split("\t")
    text_at, label_at = header.index("sentence"), header.index("label")
    split = [row.split("\t") for row in rows[1:] if row]
    return [(cols[text_at], cols[label_at]) for cols in split]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epoch", type=int, default=5)
    parser.add_argument("--word-ngrams", type=int, default=2)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    import fasttext

    train, dev = read_tsv(args.data / "train.tsv"), read_tsv(args.data / "dev.tsv")
    args.work.mkdir(parents=True, exist_ok=True)
    train_file = args.work / "sst2.train.ft"
    train_file.write_text("".join(f"__label__{label} {text}\n" for text, label in train), encoding="utf-8")
    started = time.perf_counter()
    model = fasttext.train_supervised(str(train_file), epoch=args.epoch, wordNgrams=args.word_ngrams,
                                      dim=args.dim, lr=args.lr, thread=args.threads, seed=1, verbose=0)
    train_seconds = time.perf_counter() - started
    texts = [text for text, _ in dev]
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        labels, _ = model.predict(texts)   # the list form (the single-string form trips on numpy 2)
        timings.append(time.perf_counter() - started)
    predicted = [found[0].removeprefix("__label__") for found in labels]
    accuracy = sum(p == gold for p, (_, gold) in zip(predicted, dev)) / len(dev)
    print(json.dumps({"dev_accuracy": accuracy, "train_seconds": train_seconds, "train_sentences": len(train),
                      "epochs": args.epoch, "word_ngrams": args.word_ngrams, "dim": args.dim,
                      "classify_sentences": len(dev), "classify_sentences_per_s": len(dev) / min(timings)}))


if __name__ == "__main__":
    main()
