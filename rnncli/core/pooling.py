"""Masked pooling: many RNN outputs -> one vector per sequence. Padding never counts.

Shapes: outputs (B, T, H), lengths (B,) -> pooled (B, H).

- last: the final real step of each direction. For a bidirectional RNN (outputs are
  [forward | backward] halves) the forward half is read at position length-1 and the
  backward half at position 0, where the backward pass ends.
- mean: sum over real positions / length.
- max: element-wise max over real positions (padding filled with -inf first).
- attention: a learned query scores each position; softmax over real positions only.
"""

from __future__ import annotations

import torch
from torch import nn

from rnncli.core.masking import sequence_mask

POOLINGS = ("last", "mean", "max", "attention")


class Pooling(nn.Module):
    """One of POOLINGS over (B, T, H) outputs; `attention` owns a small scorer."""

    def __init__(self, method: str, size: int, num_directions: int = 1):
        super().__init__()
        if method not in POOLINGS:
            raise ValueError(f"unknown pooling {method!r}; choose one of {', '.join(POOLINGS)}")
        self.method = method
        self.num_directions = num_directions
        # Attention: score_t = v . tanh(W h_t), a Bahdanau-style single-query scorer.
        self.scorer = (nn.Sequential(nn.Linear(size, size), nn.Tanh(), nn.Linear(size, 1, bias=False))
                       if method == "attention" else None)

    def forward(self, outputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """outputs (B, T, H), lengths (B,) on the same device -> (B, H)."""
        if self.method == "last":
            return last_pool(outputs, lengths, self.num_directions)
        mask = sequence_mask(lengths, outputs.size(1))            # (B, T)
        if self.method == "mean":
            return mean_pool(outputs, mask, lengths)
        if self.method == "max":
            return max_pool(outputs, mask)
        scores = self.scorer(outputs).squeeze(-1)                # (B, T)
        return attention_pool(outputs, mask, scores)


def last_pool(outputs: torch.Tensor, lengths: torch.Tensor, num_directions: int = 1) -> torch.Tensor:
    batch, _, size = outputs.shape
    last = (lengths - 1).clamp(min=0).view(batch, 1, 1).expand(batch, 1, size)
    final = outputs.gather(1, last).squeeze(1)                   # (B, H): step length-1
    if num_directions == 1:
        return final
    half = size // 2
    return torch.cat([final[:, :half], outputs[:, 0, half:]], dim=-1)


def mean_pool(outputs: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    summed = (outputs * mask.unsqueeze(-1).to(outputs.dtype)).sum(dim=1)
    return summed / lengths.clamp(min=1).unsqueeze(-1).to(outputs.dtype)


def max_pool(outputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    filled = outputs.masked_fill(~mask.unsqueeze(-1), float("-inf"))
    return filled.max(dim=1).values


def attention_pool(outputs: torch.Tensor, mask: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    weights = scores.float().masked_fill(~mask, float("-inf")).softmax(dim=1)   # (B, T)
    return torch.bmm(weights.to(outputs.dtype).unsqueeze(1), outputs).squeeze(1)
