"""Short speed probe (not a test, not the benchmark): training target tokens/s on real
Multi30k batches and beam-5 sentences/s, in wall and CPU seconds, for a few minutes at most.

    .venv/bin/python bench/measure_translate_speed.py --threads 2 --steps 30 --decode 256
The beam figure uses an untrained model, whose outputs tend to run to the length limit, so
it is a lower bound; bench_translate.py measures decoding with the trained model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT / "../shared/data/multi30k")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: as every rnncli command, the cores other "
                             "processes leave free, or OMP_NUM_THREADS)")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--decode", type=int, default=0, help="val sentences to decode with beam 5")
    parser.add_argument("--encoder-hidden", type=int, default=None, help="encoder units per direction")
    args = parser.parse_args()
    import torch
    from types import SimpleNamespace

    from rnncli.config import DecodeSettings
    from rnncli.memory import keep_freed_memory
    from rnncli.optim import make_optimizer
    from rnncli.readers.text import Source
    from rnncli.threads import apply_threads, choose_threads
    from rnncli.tasks.settings import TranslateSettings, TranslateTraining
    from rnncli.tasks.translate import TranslateTask, source_ids, translate_ids

    choice = choose_threads(args.threads)
    apply_threads(choice.threads)
    keep_freed_memory()   # as the command line does
    torch.manual_seed(1)
    task = TranslateTask(TranslateSettings(encoder_hidden=args.encoder_hidden), TranslateTraining(seed=1))
    task.read_data({"train_src": Source(args.data / "train.en"), "train_tgt": Source(args.data / "train.de"),
                    "valid_src": Source(args.data / "val.en"), "valid_tgt": Source(args.data / "val.de")})
    task.vocab = task.build_tokenizers()
    src_tok = task.vocab[0]
    model = task.build_model()
    optimizer = make_optimizer(model, SimpleNamespace(optimizer='adamw', lr=1e-3, weight_decay=0.01, momentum=0.0))
    loss_fn = task.loss
    batches = task.epoch_batches(0)
    for batch in batches[:3]:  # warm-up: first calls build kernels
        loss, _ = loss_fn(model, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    wall, cpu, units = time.perf_counter(), time.process_time(), 0
    for batch in batches[3:3 + args.steps]:
        loss, n = loss_fn(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        units += n
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    sentences = sum(len(b["src"]) for b in batches[3:3 + args.steps])
    print(f"train ({choice.threads} threads, {choice.source}): {args.steps} steps, "
          f"{sentences / args.steps:.1f} sentences and {units / args.steps:.0f} "
          f"target tokens per batch; {units / wall:,.0f} tokens/s wall, {units / cpu:,.0f} per CPU-second")
    if args.decode:
        lines = task.valid_set.src[:args.decode]
        ids = source_ids(src_tok, lines)
        wall, cpu = time.perf_counter(), time.process_time()
        translate_ids(model, ids, lines, torch.device("cpu"), DecodeSettings(beam=5, length_penalty=0.6, batch_size=64))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"beam 5 (untrained model): {len(lines) / wall:.1f} sentences/s wall, {len(lines) / cpu:.1f} per CPU-second")


if __name__ == "__main__":
    main()
