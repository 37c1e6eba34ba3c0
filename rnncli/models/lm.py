"""Recurrent language model: embedding -> dropout -> RNN stack -> dropout -> vocabulary.

Shapes: ids (B, T) -> logits (B, T, V). With tied embeddings the output layer reuses the
input embedding matrix (Press & Wolf, 2017); a projection bridges hidden != embed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from rnncli.core.dropout import Dropout
from rnncli.core.rnn import CELLS, RNNStack, State


@dataclass(frozen=True)
class LMConfig:
    vocab_size: int
    embed: int = 128
    hidden: int = 256
    layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.1
    layer_norm: bool = False
    tie_embeddings: bool = False

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}")
        if min(self.vocab_size, self.embed, self.hidden, self.layers) < 1:
            raise ValueError("vocab_size, embed, hidden and layers must be positive")

    def to_dict(self) -> dict:
        return asdict(self)


class LanguageModel(nn.Module):
    def __init__(self, config: LMConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embed)
        self.dropout = Dropout(config.dropout)
        self.rnn = RNNStack(config.cell, config.embed, config.hidden, config.layers,
                            bidirectional=False, dropout=config.dropout, layer_norm=config.layer_norm)
        out_features = config.embed if config.tie_embeddings else config.hidden
        self.projection = (nn.Linear(config.hidden, config.embed)
                           if config.tie_embeddings and config.hidden != config.embed else None)
        self.output = nn.Linear(out_features, config.vocab_size)
        self.reset_parameters()
        if config.tie_embeddings:
            self.output.weight = self.embedding.weight

    def reset_parameters(self) -> None:
        # Small uniform weights keep initial logits near zero, so the loss starts at ~ln(V).
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.output.weight, -0.1, 0.1)
        nn.init.zeros_(self.output.bias)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None,
                state: State | None = None) -> tuple[torch.Tensor, State]:
        """ids (B, T) -> logits (B, T, V), final state."""
        hidden, state = self.rnn(self.dropout(self.embedding(ids)), lengths, state)
        hidden = self.dropout(hidden)
        if self.projection is not None:
            hidden = self.projection(hidden)
        return self.output(hidden), state
