"""The many-to-one model: embedding -> RNN stack -> masked pooling -> dropout -> linear.

Shapes: ids (B, T) long, lengths (B,) long -> logits (B, C).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnncli.core.dropout import Dropout
from rnncli.core.pooling import POOLINGS, Pooling
from rnncli.core.rnn import CELLS, RNNStack
from rnncli.errors import ConfigError


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to rebuild the network; stored in config.json under "model"."""

    vocab_size: int
    num_labels: int
    embed: int = 128
    hidden: int = 128
    layers: int = 1
    cell: str = "lstm"
    bidirectional: bool = True
    dropout: float = 0.3
    layer_norm: bool = False
    pooling: str = "max"
    pad_id: int = 0

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"--cell {self.cell!r} is not one of: {', '.join(CELLS)}")
        if self.pooling not in POOLINGS:
            raise ConfigError(f"--pooling {self.pooling!r} is not one of: {', '.join(POOLINGS)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")
        for name in ("vocab_size", "embed", "hidden", "layers"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")
        if self.num_labels < 2:
            raise ConfigError(f"classification needs at least 2 labels in the training data, "
                              f"found {self.num_labels}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ClassifierConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


class Classifier(nn.Module):
    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed, padding_idx=config.pad_id)
        nn.init.normal_(self.embedding.weight, std=config.embed ** -0.5)
        with torch.no_grad():
            self.embedding.weight[config.pad_id].zero_()
        self.rnn = RNNStack(config.cell, config.embed, config.hidden, config.layers,
                            config.bidirectional, config.dropout, config.layer_norm)
        self.pool = Pooling(config.pooling, self.rnn.output_size, self.rnn.num_directions)
        self.dropout = Dropout(config.dropout)
        self.output = nn.Linear(self.rnn.output_size, config.num_labels)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (B, T), lengths (B,) with every length >= 1 -> logits (B, C)."""
        embedded = self.dropout(self.embedding(ids))             # (B, T, E)
        outputs, _ = self.rnn(embedded, lengths)                 # (B, T, H*D), zeros past length
        pooled = self.pool(outputs, lengths.to(outputs.device))  # (B, H*D)
        return self.output(self.dropout(pooled))                 # (B, C)
