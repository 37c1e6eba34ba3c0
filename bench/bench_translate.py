"""Benchmark: Multi30k English -> German within a time budget (not a test).

Trains `rnncli train translate` (8k joint unigram vocabulary, bidirectional 256-unit LSTM
encoder -- 128 units per direction, as OpenNMT-py's `-brnn -enc_hid_size 256` builds it --,
256-unit decoder, 256-dim embeddings, batches of 64 sentences) for --max-time
minutes, then translates test_2016_flickr with beam 5 (sacreBLEU, the reported score) and
the 1,014-sentence validation set (decoding speed, median of --repeats runs), each in fp32,
with `--int8`, with `--shortlist` and with both. Prints a table, writes JSON.

    .venv/bin/python bench/bench_translate.py                    # full run: 45 minutes of training
    .venv/bin/python bench/bench_translate.py --max-time 1       # a quick check of the script
    .venv/bin/python bench/bench_translate.py --decode-only      # re-measure decoding of --out
    .venv/bin/python bench/bench_translate.py --max-time 1 --repeats 1 --export   # + export parity, beam-5 speed
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "../shared/data/multi30k")
    parser.add_argument("--max-time", type=float, default=45.0, help="training minutes")
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/translate-ckpt")
    parser.add_argument("--out-json", type=Path, default=ROOT / "bench/results/translate.json")
    parser.add_argument("--export", action="store_true", help="also export the model (TorchScript and ONNX) and report parity and speed: eager vs TorchScript vs ONNX Runtime")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--encoder-hidden", type=int, default=128, help="encoder units per direction")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (int8 figures are CPU-only)")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--length-penalty", type=float, default=0.6)
    parser.add_argument("--decode-batch", type=int, default=128)
    parser.add_argument("--eval-every", type=int, default=None, help="validation BLEU every N steps (default: per epoch)")
    parser.add_argument("--repeats", type=int, default=3, help="decoding runs per figure (median)")
    parser.add_argument("--decode-only", action="store_true", help="skip training; decode the checkpoint in --out")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="extra training options")
    return parser.parse_args()


def train(args: argparse.Namespace) -> dict:
    from rnncli.api import train_events
    from rnncli.training import Evaluated, Finished, StepDone

    if args.out.exists():  # a previous benchmark's checkpoint; refuse to delete anything else
        if not (args.out / "config.json").is_file():
            sys.exit(f"{args.out}: exists and is not a checkpoint; choose another --out")
        shutil.rmtree(args.out)
    given = {"max_time": args.max_time, "max_steps": args.max_steps, "seed": 1, "device": args.device,
             "eval_every": args.eval_every, "encoder_hidden": args.encoder_hidden}
    for item in args.set:
        key, _, value = item.partition("=")
        given[key.replace("-", "_")] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    given.update({"train_src": args.data / "train.en", "train_tgt": args.data / "train.de",
                  "valid_src": args.data / "val.en", "valid_tgt": args.data / "val.de", "out": args.out})
    rates, evals, finished, last_rate = [], [], None, None
    cpu_started = time.process_time()
    _, events = train_events("translate", given)
    for event in events:
        if isinstance(event, StepDone):
            last_rate = event.units_per_s  # target tokens/s over the last 50 steps, steps only
            if event.step % 50 == 0:
                rates.append(last_rate)
        elif isinstance(event, Evaluated):
            evals.append({"step": event.step, **event.metrics})
            print(f"step {event.step}: valid BLEU {event.metrics['bleu']:.2f}", file=sys.stderr, flush=True)
        elif isinstance(event, Finished):
            finished = event
    cpu_seconds = time.process_time() - cpu_started
    return {"train_tokens_per_s": statistics.median(rates) if rates else last_rate, "steps": finished.step,
            "train_cpu_seconds": cpu_seconds,
            "train_seconds": finished.elapsed, "best_valid_bleu": finished.best_value, "evals": evals}


def decode(args: argparse.Namespace, name: str, int8: bool = False, shortlist: bool = False) -> dict:
    """Beam-decode a split --repeats times (the machine drifts): median speed, and scores."""
    from rnncli.metrics.translation import translation_scores
    from rnncli.readers.text import read_lines
    from rnncli.decoding.shortlist import LEXICON_FILE
    from rnncli.api import load
    from rnncli.config import DecodeSettings
    from rnncli.tasks.translate import write_lexicon

    if shortlist and not (args.out / LEXICON_FILE).is_file():
        write_lexicon(args.out)   # a checkpoint from before shortlists were saved
    translator = load(args.out, args.device, int8=int8, shortlist=shortlist)
    settings = DecodeSettings(beam=args.beam, length_penalty=args.length_penalty, batch_size=args.decode_batch)
    src = read_lines(args.data / f"{name}.en")
    ref = read_lines(args.data / f"{name}.de")
    runs = []
    for _ in range(max(1, args.repeats)):
        started, cpu_started = time.perf_counter(), time.process_time()
        hyps = translator.hypotheses(src, settings)
        runs.append((time.perf_counter() - started, time.process_time() - cpu_started))
    seconds, cpu_seconds = sorted(runs)[len(runs) // 2]
    texts = [translator.tgt_tokenizer.decode(h[0].tokens) if h else "" for h in hyps]
    scores = translation_scores(texts, [ref])
    return {"sentences": len(src), "seconds": seconds, "sentences_per_s": len(src) / seconds,
            "runs_sentences_per_s": [len(src) / r[0] for r in runs], "cpu_seconds": cpu_seconds,
            "int8": int8, "shortlist": shortlist, **scores}


# Decoding variants: key suffix -> how the table names it (full vocabulary fp32 first).
VARIANTS = {"": "", "_int8": " --int8", "_shortlist": " --shortlist", "_int8_shortlist": " --int8 --shortlist"}


def render(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="rnncli translate: Multi30k en->de", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    test, val = result["test_2016_flickr"], result["val"]
    rows = [("BLEU test_2016_flickr (beam 5)", f"{test['bleu']:.2f} [{test['bleu_ci'][0]:.2f}, {test['bleu_ci'][1]:.2f}]"),
            ("chrF / TER test_2016_flickr", f"{test['chrf']:.2f} / {test['ter']:.2f}")]
    if "train_tokens_per_s" in result:
        rows += [("training target tokens/s (median)", f"{result['train_tokens_per_s']:,.0f}"),
                 ("training steps / minutes", f"{result['steps']:,} / {result['train_seconds'] / 60:.1f}")]
    for suffix, flags in VARIANTS.items():
        if "val" + suffix in result:
            test, val = result["test_2016_flickr" + suffix], result["val" + suffix]
            rows += [(f"beam 5{flags}: BLEU test / val", f"{test['bleu']:.2f} / {val['bleu']:.2f}"),
                     (f"beam 5{flags}: sentences/s val / test",
                      f"{val['sentences_per_s']:,.1f} / {test['sentences_per_s']:,.1f}")]
    rows += [("peak RSS", f"{result['peak_rss_mb']:,.0f} MB"),
             ("wall time", f"{result['wall_seconds'] / 60:.1f} min")]
    for name, value in rows:
        table.add_row(name, value)
    table.caption = test["signatures"]["bleu"]
    Console(stderr=False).print(table)


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    result = {"max_time_minutes": args.max_time, "threads": args.threads, "beam": args.beam,
              "length_penalty": args.length_penalty, "decode_batch": args.decode_batch}
    if args.decode_only:
        previous = args.out_json.with_name(args.out_json.stem + "-decode.json")
        args.out_json = previous  # keep the training run's JSON; decoding figures go beside it
    else:
        result.update(train(args))
    for suffix in VARIANTS:
        int8, shortlist = "int8" in suffix, "shortlist" in suffix
        if int8 and args.device != "cpu":
            continue
        result["test_2016_flickr" + suffix] = decode(args, "test_2016_flickr", int8, shortlist)
        result["val" + suffix] = decode(args, "val", int8, shortlist)
        result["beam5_sentences_per_s" + suffix] = result["val" + suffix]["sentences_per_s"]
    result["bleu"] = result["test_2016_flickr"]["bleu"]
    if args.export:   # parity at beam 5 (rnncli's default) on the first 100 validation sentences
        from common import export_figures   # bench/ is sys.path[0] when run as a script

        result["export"] = export_figures(args.out, None)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["wall_seconds"] = time.perf_counter() - started
    args.out_json.parent.mkdir(parents=True, exist_ok=True)
    args.out_json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    render(result)


if __name__ == "__main__":
    main()
