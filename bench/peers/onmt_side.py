"""OpenNMT-py 3.5.1's side of the translation comparison (run by run_peers.py).

It trains from a YAML config on the peers' sentencepiece pieces (`python -m onmt.bin.train`,
what `onmt_train` runs) and beam-decodes val with `onmt.bin.translate`; its training rates
come from its own every-10-steps reports.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path


def config(spm: Path, out: Path, steps: int, input_feed: int, bucket: int = 32768, device: str = "cpu",
                precision: str = "fp32") -> str:
    """OpenNMT-py's defaults but for the shape, the optimiser and the bucket: its default
    bucket of 262,144 examples cycles a 29,000-pair corpus 9 times before the first step."""
    gpu = "world_size: 1\ngpu_ranks: [0]\n" if device == "cuda" else ""
    dtype = "model_dtype: fp16\n" if precision == "fp16" else ""
    return f"""# written by bench/peers/run_peers.py
{gpu}{dtype}
src_vocab: {spm}/vocab.txt
tgt_vocab: {spm}/vocab.txt
share_vocab: true
src_vocab_size: 8000
tgt_vocab_size: 8000
data:
  corpus_1:
    path_src: {spm}/train.en.sp
    path_tgt: {spm}/train.de.sp
save_model: {out}/model
save_checkpoint_steps: {steps}
keep_checkpoint: 1
train_steps: {steps}
valid_steps: {steps * 10}
report_every: 10
seed: 1
encoder_type: brnn
decoder_type: rnn
rnn_type: LSTM
layers: 1
enc_hid_size: 256
dec_hid_size: 256
word_vec_size: 256
share_embeddings: true
global_attention: general
input_feed: {input_feed}
dropout: [0.25]
label_smoothing: 0.1
batch_size: 64
batch_type: sents
bucket_size: {bucket}
optim: adam
adam_beta2: 0.999
learning_rate: 0.002
max_grad_norm: 1.0
"""


STEP_LINE = re.compile(r"Step\s+(\d+)/\s*\d+;.*?bsz:\s*([\d.]+)/\s*([\d.]+)/\s*([\d.]+);\s*([\d.]+)/\s*([\d.]+) tok/s")


def rates(log_text: str, first: int = 10, last: int = 100) -> tuple[float, float]:
    """Target tokens/s over steps first+1..last from the every-10-steps reports: each report's
    tokens (mean target tokens per batch x 10) and seconds (tokens / its tok/s)."""
    tokens = seconds = 0.0
    per_batch = []
    for match in STEP_LINE.finditer(log_text):
        step, tgt_per_batch, tgt_rate = int(match[1]), float(match[3]), float(match[6])
        per_batch.append(tgt_per_batch)
        if first < step <= last:
            tokens += tgt_per_batch * 10
            seconds += tgt_per_batch * 10 / max(tgt_rate, 1e-9)
    if not seconds:
        raise SystemExit("run_peers: no OpenNMT-py step reports found in its log")
    return tokens / seconds, statistics.mean(per_batch)


def train(args, spm: Path, rep: int, run_child) -> dict:
    out = args.work / "onmt" / f"r{rep}"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("model_step_*.pt"):
        old.unlink()
    config_path = out / "train.yaml"
    config_path.write_text(config(spm, out, args.steps, args.onmt_input_feed, device=args.device,
                                  precision=args.precision), encoding="utf-8")
    log = out / "train.log"
    child = run_child([str(args.onmt_python), "-m", "onmt.bin.train", "-config", str(config_path)], log, args.threads,
                      gpu=args.device == "cuda")
    text = log.read_text(encoding="utf-8") + child["stdout"]
    rate_100, per_batch = rates(text, 10, 100)
    rate_all, _ = rates(text, 10, args.steps)
    return {"tgt_tokens_per_s_10_100": rate_100, "tgt_tokens_per_s_10_last": rate_all,
            "tgt_tokens_per_step": per_batch, "wall_seconds": child["wall_seconds"],
            "peak_rss_mib": child["peak_rss_mib"], "model": str(out / f"model_step_{args.steps}.pt")}


def decode(args, spm: Path, model: str, rep: int, run_child) -> dict:
    out = args.work / "onmt" / f"r{rep}"
    hyp = out / "val.hyp.sp"
    cmd = [str(args.onmt_python), "-m", "onmt.bin.translate", "-model", model, "-src", str(spm / "val.en.sp"),
           "-output", str(hyp), "-beam_size", "5", "-batch_size", "64", "-batch_type", "sents",
           "-length_penalty", "wu", "-alpha", "0.6", "-max_length_ratio", "2", "-report_time", "-gpu", "0" if args.device == "cuda" else "-1"]
    # OpenNMT-py 3.5.1 predates torch 2.6's weights-only torch.load; its own checkpoint, just written
    child = run_child(cmd, out / "translate.log", args.threads, {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"},
                      gpu=args.device == "cuda")
    text = (out / "translate.log").read_text(encoding="utf-8") + child["stdout"]
    per_sentence_ms = float(re.search(r"Average translation time \(ms\):\s*([\d.]+)", text)[1])
    lines = hyp.read_text(encoding="utf-8").splitlines()
    seconds = per_sentence_ms * len(lines) / 1000
    return {"sentences": len(lines), "seconds": seconds, "sentences_per_s": len(lines) / seconds,
            "pieces_per_sentence": sum(len(line.split()) for line in lines) / len(lines),
            "wall_seconds": child["wall_seconds"], "peak_rss_mib": child["peak_rss_mib"],
            "hyp_pieces": str(hyp)}
