"""Global attention over encoder outputs, batched over every target step at once.

Shapes: query (B, T, Hq) (all decoder steps, or T=1 while decoding), memory (B, S, Hm),
mask (B, S) True at real source tokens. `project(memory)` computes the keys once per
source sentence; `forward(query, keys, memory, mask)` returns context (B, T, Hm) and
weights (B, T, S), each row a distribution over the real source positions only.

Kinds:
- `bahdanau`: additive, v . tanh(W_q q + W_k k) (Bahdanau et al., 2015);
- `luong-dot`: q . k (Luong et al., 2015); when the memory is wider than the query (a
  bidirectional encoder) the keys are first mapped to the query size by a linear layer,
  otherwise keys are the memory itself;
- `luong-general`: q . W k.
"""

from __future__ import annotations

import torch
from torch import nn

KINDS = ("bahdanau", "luong-dot", "luong-general")


class Attention(nn.Module):
    def __init__(self, kind: str, query_size: int, memory_size: int, attn_size: int | None = None):
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown attention {kind!r}; choose one of {', '.join(KINDS)}")
        self.kind = kind
        if kind == "bahdanau":
            attn_size = attn_size or query_size
            self.key_layer = nn.Linear(memory_size, attn_size, bias=False)
            self.query_layer = nn.Linear(query_size, attn_size, bias=False)
            self.energy = nn.Linear(attn_size, 1, bias=False)
        elif kind == "luong-general" or memory_size != query_size:
            self.key_layer = nn.Linear(memory_size, query_size, bias=False)
        else:
            self.key_layer = None

    def project(self, memory: torch.Tensor) -> torch.Tensor:
        """memory (B, S, Hm) -> keys (B, S, Hk); once per sentence, reused at every step."""
        return memory if self.key_layer is None else self.key_layer(memory)

    def scores(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """query (B, T, Hq), keys (B, S, Hk) -> unnormalised scores (B, T, S)."""
        if self.kind == "bahdanau":
            hidden = torch.tanh(self.query_layer(query).unsqueeze(2) + keys.unsqueeze(1))  # (B,T,S,A)
            return self.energy(hidden).squeeze(-1)
        return torch.bmm(query, keys.transpose(1, 2))

    def forward(self, query: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.scores(query, keys)
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights, memory), weights
