"""JoeyNMT 2.3's side of the translation comparison (optional: run_peers.py --joeynmt).

JoeyNMT lives in its own venv (`bash bench/peers/setup.sh --with-joeynmt`: $PEERS_VENV-joey),
reads the raw Multi30k files and cuts them with the same sentencepiece model (its
`tokenizer_type: sentencepiece`), over a vocabulary file of the same pieces. Shape as the
others: a bidirectional LSTM encoder of 2x128, a 256-unit LSTM decoder (JoeyNMT's recurrent
decoder, which feeds its attention output back as OpenNMT-py's does), Luong (general)
attention, 256-dim tied source/target embeddings, batches of 64 sentences.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

LOG_STAMP = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"
STEP_LINE = re.compile(LOG_STAMP + r".*?Step:\s+(\d+),.*?Tokens per Sec:\s+([\d.]+)")


def config(args, spm: Path, out: Path) -> str:
    data = args.data / "multi30k"
    side = """    level: bpe
    lowercase: false
    max_length: 100
    voc_file: {spm}/vocab.txt
    tokenizer_type: sentencepiece
    tokenizer_cfg:
      model_file: {spm}/spm.model""".format(spm=spm)
    return f"""# written by bench/peers/run_peers.py
name: peers
joeynmt_version: 2.3.0
model_dir: {out}
use_cuda: false
num_workers: 0
random_seed: 1
data:
  train: {data}/train
  dev: {data}/val
  dataset_type: plain
  sample_dev_subset: -1
  src:
    lang: en
{side}
  trg:
    lang: de
{side}
  special_symbols:
    unk_token: "<unk>"
    unk_id: 0
    pad_token: "<pad>"
    pad_id: 1
    bos_token: "<s>"
    bos_id: 2
    eos_token: "</s>"
    eos_id: 3
training:
  overwrite: true
  optimizer: adam
  learning_rate: 0.002
  clip_grad_norm: 1.0
  scheduling: exponential   # gamma 1: a constant rate (plateau passes verbose=, gone in torch 2.13)
  decrease_factor: 1.0
  label_smoothing: 0.1
  batch_size: 64
  batch_type: sentence
  epochs: 100
  updates: {args.steps}
  validation_freq: {args.steps}
  logging_freq: 10
  eval_metrics: [bleu]
  early_stopping_metric: bleu
  keep_best_ckpts: 1
  print_valid_sents: []
  shuffle: true
testing:
  beam_size: 5
  beam_alpha: 0.6
  batch_size: 64
  batch_type: sentence
  eval_metrics: [bleu]
model:
  tied_embeddings: true
  encoder:
    type: recurrent
    rnn_type: lstm
    embeddings:
      embedding_dim: 256
    hidden_size: 128
    bidirectional: true
    num_layers: 1
    dropout: 0.25
  decoder:
    type: recurrent
    rnn_type: lstm
    embeddings:
      embedding_dim: 256
    hidden_size: 256
    num_layers: 1
    dropout: 0.25
    hidden_dropout: 0.25
    attention: luong
    input_feeding: true
    init_hidden: bridge
"""


def rates(log_text: str, first: int, last: int) -> float:
    """Target tokens/s over steps first+1..last: the every-10-steps rates weighted by the time
    between their log lines (each rate is that interval's tokens over its seconds)."""
    stamps = {}
    for match in STEP_LINE.finditer(log_text):
        stamps[int(match[2])] = (datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f"), float(match[3]))
    tokens = seconds = 0.0
    for step in range(first + 10, last + 1, 10):
        if step in stamps and step - 10 in stamps:
            dt = (stamps[step][0] - stamps[step - 10][0]).total_seconds()
            tokens += stamps[step][1] * dt
            seconds += dt
    if not seconds:
        raise SystemExit("run_peers: no JoeyNMT step reports found in its log")
    return tokens / seconds


def train(args, spm: Path, rep: int, run_child) -> dict:
    out = args.work / "joeynmt" / f"r{rep}"
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg = args.work / "joeynmt" / f"r{rep}.yaml"
    cfg.write_text(config(args, spm, out), encoding="utf-8")
    python = str(args.peers_venv) + "-joey/bin/python"
    child = run_child([python, "-m", "joeynmt", "train", str(cfg), "--skip-test"],
                      args.work / "joeynmt" / f"train-r{rep}.log", args.threads,
                      {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
    text = (out / "train.log").read_text(encoding="utf-8")
    return {"tgt_tokens_per_s_10_100": rates(text, 10, min(100, args.steps)),
            "tgt_tokens_per_s_10_last": rates(text, 10, args.steps),
            "wall_seconds": child["wall_seconds"], "peak_rss_mib": child["peak_rss_mib"],
            "config": str(cfg), "model": str(out)}


def decode(args, trained: dict, rep: int, run_child) -> dict:
    python = str(args.peers_venv) + "-joey/bin/python"
    hyp = args.work / "joeynmt" / f"val.hyp.r{rep}"
    child = run_child([python, "-m", "joeynmt", "test", trained["config"], "--output-path", str(hyp)],
                      args.work / "joeynmt" / f"test-r{rep}.log", args.threads,
                      {"TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD": "1"})
    text = (Path(trained["model"]) / "test.log").read_text(encoding="utf-8")
    seconds = float(re.findall(r"Generation took ([\d.]+)\[sec\]", text)[-1])
    lines = Path(f"{hyp}.dev").read_text(encoding="utf-8").splitlines()
    return {"sentences": len(lines), "seconds": seconds, "sentences_per_s": len(lines) / seconds,
            "wall_seconds": child["wall_seconds"], "peak_rss_mib": child["peak_rss_mib"], "hyp": f"{hyp}.dev"}
