"""Character features per word: a char CNN (Ma & Hovy, 2016) or a char BiLSTM (Lample et
al., 2016), run once per distinct word of a batch.

Shapes: chars (U, C) long, one row per distinct word, 0-padded; lengths (U,) >= 1
-> features (U, output_size). Callers gather rows back to token positions with an
index (B, T) -> (B, T, output_size), so a word that occurs many times costs once.
"""

from __future__ import annotations

import torch
from torch import nn

from rnncli.core.dropout import Dropout
from rnncli.core.rnn import RNNStack, last_layer_hidden

ENCODERS = ("cnn", "lstm")


class CharCNN(nn.Module):
    """Embed characters, convolve (width 3), max-pool over the real characters."""

    def __init__(self, num_chars: int, embed: int = 30, filters: int = 50, width: int = 3,
                 dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, embed, padding_idx=0)
        self.dropout = Dropout(dropout)
        self.conv = nn.Conv1d(embed, filters, kernel_size=width, padding=width // 2)
        self.output_size = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(chars)).transpose(1, 2)               # (U, E, C)
        h = self.conv(x)                                                       # (U, F, C)
        real = torch.arange(chars.size(1), device=chars.device).unsqueeze(0) < lengths.unsqueeze(1)
        h = h.masked_fill(~real.unsqueeze(1), float("-inf"))
        return torch.tanh(h.max(dim=2).values)


class CharLSTM(nn.Module):
    """Embed characters, run a BiLSTM, concatenate the two final states."""

    def __init__(self, num_chars: int, embed: int = 30, hidden: int = 25, dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, embed, padding_idx=0)
        self.dropout = Dropout(dropout)
        self.rnn = RNNStack("lstm", embed, hidden, 1, bidirectional=True)
        self.output_size = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(self.dropout(self.embedding(chars)), lengths)
        return last_layer_hidden(state, 2)


def make_char_encoder(kind: str, num_chars: int, embed: int, size: int, dropout: float = 0.0) -> nn.Module:
    """`size` is the feature size: filters for the CNN, both directions together for the LSTM."""
    if kind == "cnn":
        return CharCNN(num_chars, embed, size, dropout=dropout)
    if kind == "lstm":
        return CharLSTM(num_chars, embed, max(1, size // 2), dropout=dropout)
    raise ValueError(f"unknown char encoder {kind!r}; choose one of {', '.join(ENCODERS)}")
