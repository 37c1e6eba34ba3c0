"""Beam-search decoding speed and BLEU of one translation checkpoint, by variant (not a test).

    .venv/bin/python bench/beam_decoding.py CKPT [--threads 1] [--repeats 3] [--lines 1014]

Decodes Multi30k val (the first --lines sentences) with beam 5 as `rnncli translate` does
(`rnncli.load`, `translator.hypotheses`, model loaded, after a warm-up batch) for each
stopping rule (--beam-stop best, exact), with the per-step layers packed for oneDNN (what
CPU decoding runs) and with torch's own layers (MKL sgemm). Prints one JSON line per
variant: sentences/s (median of --repeats, every run listed), BLEU, output pieces per
sentence, and how many outputs differ in tokens from the first variant's. --approximate
adds the default stopping rule with `--int8`, `--shortlist` and both.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data", type=Path, default=ROOT / ".." / "shared" / "data" / "multi30k")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lines", type=int, default=None, help="first N val sentences (default: all)")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--approximate", action="store_true", help="also --int8, --shortlist and both")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from rnncli.api import load
    from rnncli.config import DecodeSettings
    from rnncli.metrics.translation import translation_scores
    from rnncli.readers.text import read_lines

    src = read_lines(args.data / "val.en")[: args.lines]
    ref = read_lines(args.data / "val.de")[: args.lines]
    translator = load(args.checkpoint, "cpu")
    packed = translator.model.step_layers
    variants = [("packed", {}, stop) for stop in ("best", "exact")] + [("torch", {}, stop) for stop in ("best", "exact")]
    if args.approximate:
        variants += [("int8", {"int8": True}, "best"), ("packed", {"shortlist": True}, "best"),
                     ("int8", {"int8": True, "shortlist": True}, "best")]
    first = None
    for layers, options, stop in variants:
        if layers == "packed" and packed is None:
            print(json.dumps({"layers": "packed", "skipped": "this torch build has no oneDNN packed linear"}))
            continue
        if options:
            translator = load(args.checkpoint, "cpu", **options)
        else:
            translator.model.step_layers = packed if layers == "packed" else None
        settings = DecodeSettings(beam=args.beam, beam_stop=stop)
        translator.hypotheses(src[:64], settings)   # warm-up
        runs = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            hyps = translator.hypotheses(src, settings)
            runs.append(len(src) / (time.perf_counter() - started))
        tokens = [h[0].tokens if h else [] for h in hyps]
        first = first or tokens
        texts = [translator.tgt_tokenizer.decode(t) for t in tokens]
        print(json.dumps({
            "layers": layers, **options, "beam_stop": stop, "threads": args.threads, "sentences": len(src),
            "sentences_per_s": round(statistics.median(runs), 1), "runs": [round(r, 1) for r in runs],
            "bleu": round(translation_scores(texts, [ref])["bleu"], 2),
            "pieces_per_sentence": round(sum(map(len, tokens)) / len(tokens), 2),
            "outputs_differing_from_first_variant": sum(a != b for a, b in zip(tokens, first))}), flush=True)


if __name__ == "__main__":
    main()
