"""The RNN stack against the machine (issue 15): achieved GFLOP/s of a training step
against this machine's fp32 matmul peak, and where the step's time goes (not a test).

    .venv/bin/python bench/rnn_flops.py --threads 2 --json /tmp/rnn_flops.json

Peak: torch.mm on two --mm-size square fp32 matrices (2 n^3 FLOPs), median of --repeats,
taken at the start and at the end (the larger counts); beside it the same product through
oneDNN (`mkldnn_linear`), which on this AMD EPYC (AVX-512) is about twice torch.mm: MKL's
sgemm runs an AVX2 path on AMD CPUs, oneDNN (the fused RNN kernel's library) does not.
Fractions are given against both.

Cases, built from rnncli's own model classes on random ids (speed does not depend on
the values):
- `lm`: the `train lm` defaults (tasks/settings.py LMSettings/LMTraining, models/lm.py):
  one 512-unit LSTM, 64-dim embeddings, batches of 16 windows of 128 characters, a
  69-symbol vocabulary (Tiny Shakespeare's 65 characters + 4 specials), rnncli's lm_loss.
- `translate`: the peers' shape (bench/peers): Seq2Seq with a BiLSTM encoder of 2x128,
  a 256-unit LSTM decoder, 256-dim shared embeddings, luong-general attention, an 8k
  vocabulary, 64 sentences of --src-len source and --tgt-len target pieces, no padding,
  rnncli's translation_loss (label smoothing 0.1).
Each case is timed twice: the whole training step (forward + loss + backward; the
optimizer step is left out), and the RNN stack alone (its RNNStack modules, forward +
backward of a sum, inputs requiring grad as inside the model).

FLOPs are counted analytically, one multiply-add = 2 FLOPs, forward per example:
- an LSTM layer step, per direction: 2 * 4H * (I + H)  (four gates, input and recurrent
  GEMMs; the gate nonlinearities and the cell update, O(H), are not counted);
- a linear layer I -> O per position: 2 * I * O (output projection 2 * H * V);
- luong-general attention per target step: 2 * S * H (scores) + 2 * S * Hm (context),
  plus the key projection 2 * Hm * H per source token, once per sentence, and the
  combine layer 2 * (H + Hm) * O per target step; the bridge 2 * (2 * 2He * H) per sentence.
Backward costs 2x forward (gradients for inputs and for weights): a training step is
3x forward. Softmax, loss, dropout and other elementwise work is not counted, so the
achieved figures are a little below the work really done.

The profile (torch.profiler, CPU) of one training step splits its self CPU time into:
the fused oneDNN RNN kernel (its GEMMs and gate arithmetic are one op, not separable
from outside), other GEMMs (mm/addmm/bmm), softmax and loss, other elementwise and
memory ops, and autograd/Python overhead (profiled wall time not inside any aten op,
plus the autograd engine's own self time).
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: as every rnncli command, the free cores)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--mm-size", type=int, default=2048, help="side of the square matrices for the peak")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per figure (median)")
    parser.add_argument("--src-len", type=int, default=25, help="translate: source pieces per sentence")
    parser.add_argument("--tgt-len", type=int, default=25, help="translate: target pieces per sentence")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiles")
    return parser.parse_args()


def median_seconds(fn, repeats: int, warmup: int = 2) -> float:
    """Median wall time of fn() over `repeats` calls, after `warmup` untimed ones
    (first calls pick kernels and grow the allocator)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(size: int, repeats: int) -> dict:
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    out = torch.empty(size, size)
    seconds = median_seconds(lambda: torch.mm(a, b, out=out), repeats)
    # The same product through oneDNN (the library the fused RNN kernel uses): on AMD CPUs
    # MKL's sgemm takes an AVX2 path and reaches about half of what AVX-512 allows.
    a_dnn, b_dnn = a.to_mkldnn(), b.t().contiguous().to_mkldnn()
    dnn = median_seconds(lambda: torch._C._nn.mkldnn_linear(a_dnn, b_dnn), repeats)
    return {"size": size, "seconds": seconds, "gflops": 2 * size ** 3 / seconds / 1e9,
            "onednn_gflops": 2 * size ** 3 / dnn / 1e9}


def lstm_flops(examples_steps: int, inputs: int, hidden: int, directions: int = 1) -> float:
    """Forward FLOPs of one LSTM layer over `examples_steps` (example, time step) pairs."""
    return examples_steps * directions * 2 * 4 * hidden * (inputs + hidden)


def lm_case(src_len: int, tgt_len: int) -> dict:
    """The `train lm` default shape: model, one training step, the RNN stack alone, FLOPs."""
    import torch

    from rnncli.models.lm import LanguageModel, LMConfig
    from rnncli.tasks.lm import lm_loss
    from rnncli.tasks.settings import LMSettings, LMTraining

    s, t, vocab = LMSettings(), LMTraining(), 69
    model = LanguageModel(LMConfig(vocab_size=vocab, embed=s.embed, hidden=s.hidden, layers=s.layers,
                                   cell=s.cell, dropout=s.dropout))
    model.train()
    batch, steps = t.batch_size, s.seq_len
    ids = torch.randint(4, vocab, (batch, steps + 1), generator=torch.Generator().manual_seed(1))

    def train_step() -> None:
        loss, _ = lm_loss(model, {"ids": ids})
        loss.backward()
        model.zero_grad(set_to_none=True)

    inputs = torch.randn(batch, steps, s.embed, requires_grad=True)

    def rnn_step() -> None:
        outputs, _ = model.rnn(inputs)
        outputs.sum().backward()
        model.zero_grad(set_to_none=True)

    rnn = sum(lstm_flops(batch * steps, s.embed if layer == 0 else s.hidden, s.hidden)
              for layer in range(s.layers))
    forward = {"rnn": rnn, "attention": 0.0, "output": batch * steps * 2 * s.hidden * vocab}
    shape = f"{s.layers}x{s.hidden} LSTM, embed {s.embed}, batch {batch}x{steps}, V {vocab}"
    return {"name": "lm", "shape": shape, "train_step": train_step, "rnn_step": rnn_step,
            "forward_flops": forward}


def translate_case(src_len: int, tgt_len: int) -> dict:
    """The peers' translation shape: Seq2Seq, one training step, its RNN stacks alone, FLOPs."""
    import torch

    from rnncli.models.seq2seq import Seq2Seq, Seq2SeqConfig
    from rnncli.tasks.translate import make_batch, translation_loss

    batch, vocab, enc, hid, emb = 64, 8000, 128, 256, 256
    model = Seq2Seq(Seq2SeqConfig(src_vocab=vocab, tgt_vocab=vocab, hidden=hid, embed=emb, dropout=0.25,
                                  encoder_hidden=enc, share_embeddings=True))
    model.train()
    gen = torch.Generator().manual_seed(1)
    src = torch.randint(4, vocab, (batch, src_len - 1), generator=gen).tolist()
    tgt = torch.randint(4, vocab, (batch, tgt_len - 1), generator=gen).tolist()
    data = make_batch([s + [3] for s in src], tgt)   # sources end in </s> (id 3), as source_ids does

    def train_step() -> None:
        loss, _ = translation_loss(model, data, 0.1)
        loss.backward()
        model.zero_grad(set_to_none=True)

    src_in = torch.randn(batch, src_len, emb, requires_grad=True)
    tgt_in = torch.randn(batch, tgt_len, emb, requires_grad=True)
    lengths = torch.full((batch,), src_len)

    def rnn_step() -> None:
        memory, final = model.encoder(src_in, lengths)
        hidden, _ = model.decoder(tgt_in, None, model.bridge(final))
        (memory.sum() + hidden.sum()).backward()
        model.zero_grad(set_to_none=True)

    memory = 2 * enc
    rnn = lstm_flops(batch * src_len, emb, enc, 2) + lstm_flops(batch * tgt_len, emb, hid)
    attention = (batch * src_len * 2 * memory * hid                    # keys, once per sentence
                 + batch * tgt_len * (2 * src_len * hid + 2 * src_len * memory)   # scores, context
                 + batch * tgt_len * 2 * (hid + memory) * hid          # combine
                 + batch * 2 * (2 * memory * hid))                     # bridge (h and c)
    forward = {"rnn": rnn, "attention": attention, "output": batch * tgt_len * 2 * hid * vocab}
    shape = (f"BiLSTM 2x{enc} + LSTM {hid} decoder, embed {emb}, luong-general, batch {batch}, "
             f"src {src_len} / tgt {tgt_len}, V {vocab}")
    return {"name": "translate", "shape": shape, "train_step": train_step, "rnn_step": rnn_step,
            "forward_flops": forward}


GEMM_OPS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm", "aten::dot",
            "aten::mv", "aten::addmv"}
SOFTMAX_LOSS = ("softmax", "nll_loss", "cross_entropy", "SmoothedCrossEntropy")


def category(name: str) -> str:
    if "mkldnn_rnn" in name or "lstm_cell" in name or "_thnn_fused" in name:
        return "fused RNN kernel"
    if name in GEMM_OPS:
        return "other GEMM"
    if any(key in name for key in SOFTMAX_LOSS):
        return "softmax + loss"
    if name.startswith("autograd::") or name.startswith("torch::autograd") or not name.startswith("aten::"):
        return "autograd/Python"
    return "elementwise + memory"


def profile_step(step, top: int = 8) -> dict:
    """One profiled training step -> share of its wall time per category, and top ops."""
    from torch.profiler import ProfilerActivity, profile

    step()   # warm (the timed runs did too, but the profile should see a steady state)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        step()
        wall = time.perf_counter() - start
    events = [e for e in prof.key_averages() if not e.key.startswith("[")]
    shares: dict[str, float] = {}
    inside = 0.0
    for event in events:
        seconds = event.self_cpu_time_total / 1e6
        shares[category(event.key)] = shares.get(category(event.key), 0.0) + seconds
        inside += seconds
    # Wall time outside every op: the Python code and the autograd engine between ops.
    shares["autograd/Python"] = shares.get("autograd/Python", 0.0) + max(0.0, wall - inside)
    total = sum(shares.values())
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return {"wall_seconds": wall,
            "shares": {k: v / total for k, v in sorted(shares.items(), key=lambda kv: -kv[1])},
            "top_ops": [{"op": e.key, "share": e.self_cpu_time_total / 1e6 / total, "calls": e.count}
                        for e in ranked]}


def measure(case: dict, repeats: int, with_profile: bool) -> dict:
    """Median step times and achieved GFLOP/s (the fraction of peak is added by main)."""
    forward = case["forward_flops"]
    train_flops = 3 * sum(forward.values())
    rnn_flops = 3 * forward["rnn"]
    train_s = median_seconds(case["train_step"], repeats)
    rnn_s = median_seconds(case["rnn_step"], repeats)
    result = {"name": case["name"], "shape": case["shape"],
              "forward_gflop": {k: v / 1e9 for k, v in forward.items()},
              "train_step": {"gflop": train_flops / 1e9, "seconds": train_s,
                             "gflops": train_flops / train_s / 1e9},
              "rnn_stack": {"gflop": rnn_flops / 1e9, "seconds": rnn_s,
                            "gflops": rnn_flops / rnn_s / 1e9}}
    if with_profile:
        result["profile"] = profile_step(case["train_step"])
    return result


def print_table(figures: dict) -> None:
    peak = figures["peak"]
    print(f"fp32 matmul peak: {peak['gflops']:.1f} GFLOP/s (torch.mm {peak['size']}^2, "
          f"{figures['threads']} threads, median of {figures['repeats']}; "
          f"start {peak['start_gflops']:.1f}, end {peak['end_gflops']:.1f}); "
          f"oneDNN matmul {peak['onednn_gflops']:.1f} GFLOP/s")
    header = f"{'case':<10} {'what':<11} {'GFLOP/step':>10} {'ms/step':>9} {'GFLOP/s':>8} {'% mm':>7} {'% oneDNN':>8}"
    print(header)
    print("-" * len(header))
    for case in figures["cases"]:
        for what in ("train_step", "rnn_stack"):
            row = case[what]
            print(f"{case['name']:<10} {what:<11} {row['gflop']:>10.2f} {row['seconds'] * 1e3:>9.1f} "
                  f"{row['gflops']:>8.1f} {100 * row['of_peak']:>6.1f}% {100 * row['of_onednn_peak']:>7.1f}%")
    for case in figures["cases"]:
        print(f"\n{case['name']}: {case['shape']}")
        split = ", ".join(f"{k} {v:.3f}" for k, v in case["forward_gflop"].items())
        print(f"  forward GFLOP per step: {split}")
        if "profile" in case:
            prof = case["profile"]
            shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in prof["shares"].items())
            print(f"  profiled step {prof['wall_seconds'] * 1e3:.0f} ms: {shares}")
            for op in prof["top_ops"]:
                print(f"    {100 * op['share']:5.1f}%  {op['op']} (x{op['calls']})")


def main() -> None:
    args = parse_args()
    import torch

    from rnncli.threads import apply_threads, choose_threads

    choice = choose_threads(args.threads)
    apply_threads(choice.threads)
    torch.manual_seed(1)
    # The peak is taken before and after the cases, and the larger one counts: the shared
    # machine's speed drifts, and a slow minute would otherwise flatter every fraction.
    start = matmul_peak(args.mm_size, args.repeats)
    cases = [build(args.src_len, args.tgt_len) for build in (lm_case, translate_case)]
    timed = [measure(case, args.repeats, not args.no_profile) for case in cases]
    end = matmul_peak(args.mm_size, args.repeats)
    peak = max(start, end, key=lambda p: p["gflops"])
    onednn = max(start["onednn_gflops"], end["onednn_gflops"])
    for case in timed:
        for what in ("train_step", "rnn_stack"):
            case[what]["of_peak"] = case[what]["gflops"] / peak["gflops"]
            case[what]["of_onednn_peak"] = case[what]["gflops"] / onednn
    figures = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "threads": choice.threads, "threads_source": choice.source, "repeats": args.repeats,
               "torch": torch.__version__, "peak": dict(peak, start_gflops=start["gflops"], end_gflops=end["gflops"],
                                                            onednn_gflops=onednn),
               "cases": timed}
    print_table(figures)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
