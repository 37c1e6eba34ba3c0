"""Sequence tagger: word embedding + character features -> BiRNN -> emission scores ->
linear-chain CRF (default) or per-token softmax.

Shapes: words (B, T) long (0 = padding), lengths (B,), chars (U, C) long holding the
distinct words of the batch, char_lengths (U,), char_index (B, T) into those U rows
-> emissions (B, T, L). Both decoders obey the scheme's transition constraints (the
CRF through its tables, the softmax tagger through a Viterbi over its log-probabilities
with forbidden moves at -inf), and can run unconstrained to count what they would break.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from rnncli.core.charfeatures import ENCODERS, make_char_encoder
from rnncli.core.crf import CRF, greedy_constrained
from rnncli.core.dropout import Dropout
from rnncli.core.masking import sequence_mask
from rnncli.core.rnn import CELLS, RNNStack
from rnncli.schemes import transition_masks


@dataclass(frozen=True)
class TaggerConfig:
    num_words: int
    num_chars: int
    labels: list[str] = field(default_factory=list)
    scheme: str = "bioes"           # the internal scheme the labels are in (constraints)
    embed: int = 100
    char_embed: int = 30
    char_features: int = 50         # 0: no character features
    char_encoder: str = "cnn"
    cell: str = "lstm"
    hidden: int = 100               # per direction
    layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5
    crf: bool = True
    layer_norm: bool = False

    def __post_init__(self) -> None:
        if self.cell not in CELLS or self.char_encoder not in ENCODERS:
            raise ValueError(f"unknown cell {self.cell!r} or char encoder {self.char_encoder!r}")
        if min(self.num_words, self.num_chars, self.embed, self.hidden, self.layers, len(self.labels)) < 1:
            raise ValueError("vocabulary sizes, embed, hidden, layers and labels must be positive")

    def to_dict(self) -> dict:
        return asdict(self)


class Tagger(nn.Module):
    def __init__(self, config: TaggerConfig):
        super().__init__()
        self.config = config
        num_labels = len(config.labels)
        self.embedding = nn.Embedding(config.num_words, config.embed, padding_idx=0)
        nn.init.uniform_(self.embedding.weight, -(3 / config.embed) ** 0.5, (3 / config.embed) ** 0.5)
        self.chars = (make_char_encoder(config.char_encoder, config.num_chars, config.char_embed,
                                        config.char_features, dropout=0.0)
                      if config.char_features else None)
        features = config.embed + (self.chars.output_size if self.chars else 0)
        self.dropout = Dropout(config.dropout)
        self.rnn = RNNStack(config.cell, features, config.hidden, config.layers,
                            bidirectional=config.bidirectional, dropout=config.dropout,
                            layer_norm=config.layer_norm)
        self.output = nn.Linear(self.rnn.output_size, num_labels)
        start, table, end = (torch.tensor(t, dtype=torch.bool) for t in transition_masks(config.labels, config.scheme))
        self.register_buffer("start_allowed", start, persistent=False)
        self.register_buffer("allowed", table, persistent=False)
        self.register_buffer("end_allowed", end, persistent=False)
        self.crf = CRF(num_labels, start, table, end) if config.crf else None

    def emissions(self, words, lengths, chars, char_lengths, char_index) -> torch.Tensor:
        x = self.embedding(words)
        if self.chars is not None:
            per_word = self.chars(chars, char_lengths)                          # (U, C)
            x = torch.cat([x, per_word[char_index]], dim=2)
        outputs, _ = self.rnn(self.dropout(x), lengths)
        return self.output(self.dropout(outputs))

    def forward(self, words, lengths, chars, char_lengths, char_index, tags=None):
        """Emissions (B, T, L); with gold `tags`, the summed loss over the batch instead."""
        emissions = self.emissions(words, lengths, chars, char_lengths, char_index)
        if tags is None:
            return emissions
        mask = sequence_mask(lengths, words.size(1))
        if self.crf is not None:
            return self.crf.nll(emissions, tags, mask).sum()
        flat = F.cross_entropy(emissions.float().transpose(1, 2), tags, reduction="none")
        return (flat * mask).sum()

    def decode(self, emissions: torch.Tensor, lengths: torch.Tensor, constrained: bool = True) -> torch.Tensor:
        """Best label ids (B, T), 0 on padding."""
        mask = sequence_mask(lengths, emissions.size(1))
        if self.crf is not None:
            return self.crf.viterbi(emissions, mask, constrained)[0]
        log_probs = emissions.float().log_softmax(-1)
        if not constrained:
            return log_probs.argmax(-1) * mask
        return greedy_constrained(log_probs, mask, self.start_allowed, self.allowed, self.end_allowed)

    def probabilities(self, emissions: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Per-token label probabilities (B, T, L): CRF marginals or softmax."""
        mask = sequence_mask(lengths, emissions.size(1))
        if self.crf is not None:
            return self.crf.marginals(emissions, mask)
        return emissions.float().softmax(-1) * mask.unsqueeze(2)
