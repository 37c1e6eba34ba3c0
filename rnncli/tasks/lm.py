"""Language modelling (one-to-many): train on a text stream, evaluate nats per token and
per character, sample continuations.

The training text is one token stream with a <s> in front. Each epoch cuts it into
windows of seq_len + 1 tokens from a random offset and shuffles them (a pure function of
seed and epoch, so resume is exact). Evaluation runs the model statefully over the
validation stream split into parallel rows, so every token is scored exactly once with as
much context as the row has; nats per character divide by the text's length.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterator

import torch
import torch.nn.functional as F

from rnncli.batching import epoch_generator
from rnncli.checkpoint import fingerprint, load_weights, read_config
from rnncli.errors import ConfigError, DataError
from rnncli.models.lm import LanguageModel, LMConfig
from rnncli.readers.text import read_text
from rnncli.runtime import pick_device, seed_everything
from rnncli.tasks.common import (check_out_dir, check_same_data, checkpoint_config, open_checkpoint,
                                 resolve_options,
                                 run_training, tokenizer_dir)
from rnncli.tokenizer import BOS_ID, Tokenizer, load_tokenizer, train_tokenizer
from rnncli.training import Notice, TrainJob

TASK = "lm"
# Measured on Tiny Shakespeare (bench/bench_lm.py): on a CPU budget, one 512-unit layer with
# small batches (more updates per token) beat two layers and 64-sequence batches.
TASK_DEFAULTS: dict[str, Any] = {
    "tokenizer": "char", "embed": 64, "hidden": 512, "layers": 1, "dropout": 0.1,
    "batch_size": 16, "lr": 2e-3, "warmup": 100, "epochs": 20, "seq_len": 128,
}
HOLDOUT = 0.1
EVAL_ROWS = 32


def encode_stream(tokenizer: Tokenizer, text: str) -> torch.Tensor:
    """<s> followed by the text's ids, as one long tensor."""
    return torch.tensor([BOS_ID] + tokenizer.encode(text), dtype=torch.long)


def split_holdout(text: str) -> tuple[str, str]:
    """The last 10% of the text (cut at a line boundary when there is one) for validation."""
    cut = int(len(text) * (1 - HOLDOUT))
    newline = text.rfind("\n", 0, cut)
    if newline > len(text) // 2:
        cut = newline + 1
    return text[:cut], text[cut:]


def window_batches(stream: torch.Tensor, seq_len: int, batch_size: int, seed: int,
                   epoch: int) -> list[dict[str, torch.Tensor]]:
    """Shuffled (B, seq_len + 1) windows of the stream, starting at a random offset."""
    generator = epoch_generator(seed, epoch)
    span = seq_len + 1
    offset = int(torch.randint(0, seq_len, (1,), generator=generator)) if len(stream) > span + seq_len else 0
    starts = torch.arange(offset, len(stream) - span + 1, seq_len)
    if len(starts) == 0:
        raise DataError(f"the training text is shorter than one window ({span} tokens); lower --seq-len")
    starts = starts[torch.randperm(len(starts), generator=generator)]
    columns = torch.arange(span)
    return [{"ids": stream[chunk.unsqueeze(1) + columns]} for chunk in starts.split(batch_size)]


def lm_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    ids = batch["ids"]
    logits, _ = model(ids[:, :-1])
    targets = ids[:, 1:]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), targets.reshape(-1))
    return loss, targets.numel()


@torch.no_grad()
def stream_nats(model, stream: torch.Tensor, device: torch.device, seq_len: int,
                rows: int = EVAL_ROWS) -> tuple[float, int]:
    """Total cross-entropy (nats) of every token after the first, and how many were scored."""
    targets_total = len(stream) - 1
    rows = max(1, min(rows, targets_total // max(1, seq_len)))
    per_row = targets_total // rows
    body = stream[: rows * per_row + 1]
    inputs = body[:-1].view(rows, per_row)
    targets = body[1:].view(rows, per_row)
    total = score_rows(model, inputs, targets, device, seq_len)
    tail = stream[rows * per_row:]
    if len(tail) > 1:  # the few tokens left over when rows do not divide the stream
        total += score_rows(model, tail[:-1].unsqueeze(0), tail[1:].unsqueeze(0), device, seq_len)
    return total, targets_total


def score_rows(model, inputs: torch.Tensor, targets: torch.Tensor, device: torch.device,
               seq_len: int) -> float:
    state = None
    total = 0.0
    for start in range(0, inputs.size(1), seq_len):
        x = inputs[:, start:start + seq_len].to(device)
        y = targets[:, start:start + seq_len].to(device)
        logits, state = model(x, None, state)
        total += float(F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1),
                                       reduction="sum"))
    return total


def lm_report(nats: float, tokens: int, chars: int) -> dict[str, float]:
    per_token = nats / max(1, tokens)
    per_char = nats / max(1, chars)
    return {"perplexity": math.exp(min(per_token, 700.0)), "nats_per_token": per_token,
            "nats_per_char": per_char, "bits_per_char": per_char / math.log(2),
            "tokens": tokens, "chars": chars}


def build_tokenizer(options: dict[str, Any], text: str) -> Tokenizer:
    """Characters are counted over the whole text (newline included); sentencepiece learns
    from lines and knows "\n" as a symbol of its own."""
    kind = options["tokenizer"]
    texts = [text] if kind == "char" else text.split("\n")
    return train_tokenizer(kind, texts, options["vocab_size"])


def build_model(options: dict[str, Any], vocab_size: int) -> LanguageModel:
    if options.get("bidirectional"):
        raise ConfigError("--bidirectional: a language model reads left to right only")
    return LanguageModel(LMConfig(
        vocab_size=vocab_size, embed=options["embed"], hidden=options["hidden"],
        layers=options["layers"], cell=options["cell"], dropout=options["dropout"],
        layer_norm=options["layer_norm"], tie_embeddings=options["tie_embeddings"]))


def train_lm(given: dict[str, Any], train_path: Path, valid_path: Path | None, out: Path,
             resume: bool) -> Iterator[Any]:
    """Train a language model; yields training events (see training.py)."""
    check_out_dir(out, resume)
    options = resolve_options({**given, "valid": str(valid_path) if valid_path else None},
                              {**TASK_DEFAULTS, "valid": None}, out, resume)
    text = read_text(train_path)
    if options["valid"]:
        valid_text = read_text(options["valid"])
        train_text = text
    else:
        train_text, valid_text = split_holdout(text)
        yield Notice(f"no --valid given: holding out the last {len(valid_text):,} characters "
                     f"(~10%) of {train_path} for validation")
    data = {"train": fingerprint(train_path)}
    if options["valid"]:
        data["valid"] = fingerprint(options["valid"])
    if resume:
        check_same_data(read_config(out)["data"], data)
    seed_everything(options["seed"])
    tokenizer = load_tokenizer(tokenizer_dir(out)) if resume else build_tokenizer(options, train_text)
    train_stream = encode_stream(tokenizer, train_text)
    valid_stream = encode_stream(tokenizer, valid_text)
    model = build_model(options, tokenizer.vocab_size)
    seq_len, batch_size, seed = options["seq_len"], options["batch_size"], options["seed"]

    def evaluate(model, device):
        nats, tokens = stream_nats(model, valid_stream, device, seq_len)
        return {k: v for k, v in lm_report(nats, tokens, len(valid_text)).items()
                if k not in ("tokens", "chars")}

    job = TrainJob(model=model, loss=lm_loss, metric="nats_per_char", maximize=False, unit="tokens",
                   epoch_batches=lambda epoch: window_batches(train_stream, seq_len, batch_size, seed, epoch),
                   evaluate=evaluate)
    config = checkpoint_config(TASK, options, model.config.to_dict(), data,
                               tokenizer=tokenizer.describe(),
                               holdout=None if options["valid"] else {"chars": len(valid_text)})
    writer = open_checkpoint(out, config, lambda d: tokenizer.save(tokenizer_dir(d)), resume)
    yield from run_training(job, options, out, writer, resume)


def load_lm(checkpoint: Path, device_name: str = "auto") -> tuple[LanguageModel, Tokenizer, dict, torch.device]:
    """A trained language model ready for inference, on the chosen device."""
    config = read_config(checkpoint, TASK)
    tokenizer = load_tokenizer(tokenizer_dir(checkpoint))
    model = LanguageModel(LMConfig(**config["model"]))
    load_weights(checkpoint, model)
    device = pick_device(device_name)
    return model.to(device).eval(), tokenizer, config, device


def evaluate_lm(checkpoint: Path, path: Path, device_name: str = "auto") -> dict[str, float]:
    model, tokenizer, config, device = load_lm(checkpoint, device_name)
    text = read_text(path)
    stream = encode_stream(tokenizer, text)
    nats, tokens = stream_nats(model, stream, device, config["options"]["seq_len"])
    unknown = int((stream == tokenizer.unk_id).sum())
    return {**lm_report(nats, tokens, len(text)), "unknown_tokens": unknown}
