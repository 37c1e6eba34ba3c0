"""rnncli's side of the peer comparison (run by run_peers.py, in rnncli's own venv).

    python bench/peers/rnncli_mt.py spm   --data D --out SPM_DIR
    python bench/peers/rnncli_mt.py train --data D --spm SPM_DIR --out CKPT --steps N
    python bench/peers/rnncli_mt.py decode --ckpt CKPT --src val.en

`spm` trains the joint 8k unigram model once with rnncli's tokenizer module (what `rnncli
train translate` trains) and also writes the pieces for the peers. `train` runs the real
training loop (`rnncli.api.train_events`, the code `rnncli train translate` runs) with
that tokenizer in place of a freshly trained one, so both sides see the same pieces, and
times every step. `decode` loads the checkpoint as `rnncli translate` does and beam-decodes
with rnncli's default decoding settings (beam 5, fp32). Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))


def make_spm(args) -> dict:
    from rnncli.readers.text import read_lines
    from rnncli.tokenizer import train_tokenizer

    train_en, train_de = read_lines(args.data / "train.en"), read_lines(args.data / "train.de")
    tok = train_tokenizer("unigram", train_en + train_de, 8000)
    args.out.mkdir(parents=True, exist_ok=True)
    tok.save(args.out)
    for name in ("train.en", "train.de", "val.en", "val.de"):
        lines = read_lines(args.data / name)
        pieces = tok.processor.encode(lines, out_type=str)
        text = "".join(" ".join(p) + "\n" for p in pieces)
        (args.out / f"{name}.sp").write_text(text, encoding="utf-8")
    # OpenNMT-py vocabulary: every piece but sentencepiece's own specials (it adds its own)
    # and the newline symbol (a line of its own would break the file format).
    vocab = [tok.id_to_piece(i) for i in range(4, tok.vocab_size)]
    vocab = [p for p in vocab if p.strip() and not any(c.isspace() for c in p)]
    (args.out / "vocab.txt").write_text("".join(p + "\n" for p in vocab), encoding="utf-8")
    return {"vocab_size": tok.vocab_size, "onmt_vocab_lines": len(vocab)}


def train(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from rnncli.api import train_events
    from rnncli.tasks.translate import TranslateTask
    from rnncli.tokenizer import load_tokenizer
    from rnncli.training import Finished, StepDone

    shared = load_tokenizer(args.spm)
    TranslateTask.build_tokenizers = lambda self: (shared, shared)   # the one joint model, not a new one
    units: list[int] = []
    plain_loss = TranslateTask.loss

    def counted_loss(self, model, batch):
        loss, n = plain_loss(self, model, batch)
        units.append(n)
        return loss, n

    TranslateTask.loss = counted_loss
    given = {"train_src": args.data / "train.en", "train_tgt": args.data / "train.de",
             "valid_src": args.data / "val.en", "valid_tgt": args.data / "val.de", "out": args.out,
             "max_steps": args.steps, "eval_every": args.steps, "encoder_hidden": args.encoder_hidden,
             "seed": 1, "device": args.device, "precision": args.precision, "overwrite": True}
    # On a GPU a step's work is queued: wait for it before each timestamp, or the rates count launches.
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    stamps: dict[int, tuple[float, int]] = {}
    started = time.perf_counter()
    finished = None
    _, events = train_events("translate", given)
    for event in events:
        if isinstance(event, StepDone):
            sync()
            stamps[event.step] = (time.perf_counter(), sum(units))
        elif isinstance(event, Finished):
            finished = event
    wall = time.perf_counter() - started

    def rate(first: int, last: int) -> float:
        (t0, u0), (t1, u1) = stamps[first], stamps[last]
        return (u1 - u0) / (t1 - t0)

    last = max(stamps)
    return {"steps": finished.step, "tgt_tokens_per_s_10_100": rate(10, min(100, last)),
            "tgt_tokens_per_s_10_last": rate(10, last), "tgt_tokens_per_step": sum(units) / len(units),
            "wall_seconds": wall, "best_valid_bleu_greedy": finished.best_value}


def decode(args) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from rnncli.api import load
    from rnncli.config import DecodeSettings
    from rnncli.readers.text import read_lines

    translator = load(args.ckpt, args.device)
    src = read_lines(args.src)
    settings = DecodeSettings(beam=args.beam, batch_size=args.batch_size)   # rnncli's defaults otherwise
    # No warm-up on a GPU: OpenNMT-py's -report_time also starts after its model is on the device.
    started = time.perf_counter()
    hyps = translator.hypotheses(src, settings)
    seconds = time.perf_counter() - started
    texts = [translator.tgt_tokenizer.decode(h[0].tokens) if h else "" for h in hyps]
    pieces = sum(len(h[0].tokens) if h else 0 for h in hyps)
    if args.hyp_out:
        Path(args.hyp_out).write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    return {"sentences": len(src), "seconds": seconds, "sentences_per_s": len(src) / seconds,
            "pieces_per_sentence": pieces / len(src), "settings": settings.to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("spm", "train", "decode"))
    parser.add_argument("--data", type=Path, default=ROOT / "../shared/data/multi30k")
    parser.add_argument("--spm", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--src", type=Path)
    parser.add_argument("--hyp-out", type=Path)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--encoder-hidden", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--precision", default="fp32", choices=("fp32", "fp16", "bf16", "auto"),
                        help="training precision (rnncli's --precision)")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    result = {"spm": make_spm, "train": train, "decode": decode}[args.what](args)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
