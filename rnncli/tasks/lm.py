"""Language modelling (one-to-many): train on a text stream, evaluate nats per token and
per character; sampling lives in tasks/lm_generate.py.

The training text is one token stream with a <s> in front. Each epoch cuts it into
windows of seq_len + 1 tokens from a random offset and shuffles them (a pure function of
seed and epoch, so resume is exact). Evaluation runs the model statefully over the
validation stream split into parallel rows, so every token is scored exactly once with as
much context as the row has; nats per character divide by the text's length.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from rnncli.batching import epoch_generator
from rnncli.errors import ConfigError, UsageError
from rnncli.models.lm import LanguageModel, LMConfig
from rnncli.readers.text import read_text
from rnncli.tasks.base import Task, tokenizer_dir
from rnncli.tokenizer import BOS_ID, Tokenizer, load_tokenizer, train_tokenizer

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
    """Shuffled (B, seq_len + 1) windows of the stream, starting at a random offset. The
    stream must hold at least seq_len + 1 tokens."""
    generator = epoch_generator(seed, epoch)
    span = seq_len + 1
    offset = int(torch.randint(0, seq_len, (1,), generator=generator)) if len(stream) > span + seq_len else 0
    starts = torch.arange(offset, len(stream) - span + 1, seq_len)
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


class LMTask(Task):
    name, metric, maximize, unit = "lm", "nats_per_char", False, "tokens"
    model_class, model_config = LanguageModel, LMConfig

    def read_data(self, sources) -> None:
        text = read_text(sources["train"])
        self.holdout = None
        if sources.get("valid") is not None:
            self.train_text, self.valid_text = text, read_text(sources["valid"])
        else:
            self.train_text, self.valid_text = split_holdout(text)
            self.holdout = {"chars": len(self.valid_text)}
            self.notes.append(f"no --valid given: holding out the last {len(self.valid_text):,} characters "
                              f"(~10%) of {sources['train']} for validation")

    def build_tokenizers(self) -> Tokenizer:
        """Characters are counted over the whole text (newline included); sentencepiece
        learns from lines and knows "\\n" as a symbol of its own."""
        kind = self.settings.tokenizer
        texts = [self.train_text] if kind == "char" else self.train_text.split("\n")
        return train_tokenizer(kind, texts, self.settings.vocab_size)

    @classmethod
    def load_tokenizers(cls, directory: Path, config: dict[str, Any]) -> Tokenizer:
        return load_tokenizer(tokenizer_dir(directory))

    def build_model(self) -> LanguageModel:
        s = self.settings
        if s.bidirectional:
            raise ConfigError("--bidirectional: a language model reads left to right only")
        self.train_stream = encode_stream(self.vocab, self.train_text)
        self.valid_stream = encode_stream(self.vocab, self.valid_text)
        # A text shorter than one window still trains, on one window of what there is.
        self.window = min(s.seq_len, len(self.train_stream) - 1)
        if self.window < s.seq_len:
            self.notes.append(f"the training text has only {len(self.train_stream) - 1:,} tokens: training "
                              f"windows shrink from --seq-len {s.seq_len} to {self.window}")
        return LanguageModel(LMConfig(vocab_size=self.vocab.vocab_size, embed=s.embed, hidden=s.hidden,
                                      layers=s.layers, cell=s.cell, dropout=s.dropout, layer_norm=s.layer_norm,
                                      tie_embeddings=s.tie_embeddings))

    def epoch_batches(self, epoch: int):
        return window_batches(self.train_stream, self.window, self.train.batch_size, self.train.seed, epoch)

    def loss(self, model, batch):
        return lm_loss(model, batch)

    def evaluate(self, model, device) -> dict[str, float]:
        nats, tokens = stream_nats(model, self.valid_stream, device, self.settings.seq_len)
        return {k: v for k, v in lm_report(nats, tokens, len(self.valid_text)).items()
                if k not in ("tokens", "chars")}

    def describe(self) -> dict[str, Any]:
        return {"tokenizer": self.vocab.describe(), "holdout": self.holdout}

    def save_files(self, directory: Path) -> None:
        self.vocab.save(tokenizer_dir(directory))

    @classmethod
    def load(cls, checkpoint, device: str = "auto", **options):
        from rnncli.tasks.lm_generate import TextGenerator

        if options:
            raise UsageError(f"a language model takes no loading option {sorted(options)[0]!r}")
        return TextGenerator(*cls.load_parts(checkpoint, device))


def evaluate_text(model, tokenizer: Tokenizer, config: dict[str, Any], device, path) -> dict[str, Any]:
    """Nats per token and character of a text file, and how many of its tokens are unknown."""
    text = read_text(path)
    stream = encode_stream(tokenizer, text)
    nats, tokens = stream_nats(model, stream, device, config["options"]["seq_len"])
    unknown = int((stream == tokenizer.unk_id).sum())
    return {**lm_report(nats, tokens, len(text)), "unknown_tokens": unknown}


TASK = LMTask
