"""Sampling from a language model, batched: temperature, top-k and nucleus (top-p).

All prompts of a batch advance together; each step yields the next token of every row,
so callers can stream text as it is produced.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch


def filter_logits(logits: torch.Tensor, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Set logits outside the top-k / nucleus to -inf. logits (B, V)."""
    if top_k and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        # Drop a token when the tokens before it already reach top_p; the first always stays.
        drop_sorted = probs.cumsum(dim=-1) - probs >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def choose(logits: torch.Tensor, temperature: float, top_k: int, top_p: float,
           generator: torch.Generator | None) -> torch.Tensor:
    """Next ids (B,) from logits (B, V); temperature 0 means greedy."""
    if temperature <= 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(filter_logits(logits.float() / temperature, top_k, top_p), dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.inference_mode()
def sample(model, prompts: Sequence[Sequence[int]], max_tokens: int, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, generator: torch.Generator | None = None,
           device: torch.device | None = None) -> Iterator[torch.Tensor]:
    """Yield (B,) next-token ids, max_tokens times. Prompts must be non-empty id lists."""
    from rnncli.batching import pad

    device = device or next(model.parameters()).device
    ids, lengths = pad(prompts)
    logits, state = model(ids.to(device), lengths.to(device))
    last = logits[torch.arange(len(prompts), device=device), lengths.to(device) - 1]
    for _ in range(max_tokens):
        next_ids = choose(last, temperature, top_k, top_p, generator)
        yield next_ids
        logits, state = model(next_ids.unsqueeze(1), None, state)
        last = logits[:, -1]
