"""Batched greedy decoding for the encoder-decoder, and what beam search shares with it:
hypotheses, output-length limits, the token restrictions of each step, the GNMT length
penalty.

A model here is anything with `encode(src, src_lengths) -> state` and
`step(prev (N,), state) -> (log_probs (N, V), state, weights (N, S))` (models/seq2seq.py).
Run under torch.inference_mode(); the callers in tasks/ do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnncli.config import DecodeSettings

PAD_ID, BOS_ID, EOS_ID = 0, 2, 3
NEG_INF = float("-inf")


@dataclass
class Hypothesis:
    """One output: tokens without EOS, length-penalised score, raw log-probability
    (EOS included), and attention weights (len(tokens) + 1, source length) if asked."""

    tokens: list[int]
    score: float
    log_prob: float
    attention: torch.Tensor | None = None


def length_penalty(lengths: torch.Tensor, alpha: float) -> torch.Tensor:
    """GNMT (Wu et al., 2016): ((5 + length) / 6) ** alpha; alpha 0 gives 1 (no penalty)."""
    return ((5.0 + lengths.float()) / 6.0).pow(alpha)


def max_output_lengths(src_lengths: torch.Tensor, ratio: float, extra: int) -> torch.Tensor:
    """Most target tokens (EOS included) each sentence may produce: ratio * source + extra."""
    return (src_lengths.float() * ratio).floor().long() + extra


def restrict(log_probs: torch.Tensor, finished: torch.Tensor, at_limit: torch.Tensor) -> torch.Tensor:
    """The choices a step allows, written in place into the step's fresh log-probs.

    Finished rows may only add PAD, at no cost, so their score stands still; live rows may
    never produce PAD or BOS; rows at their length limit must produce EOS (at the model's
    own score for it). Only the affected rows are touched: a full-size mask per step
    would cost as much as the softmax."""
    log_probs[:, PAD_ID] = NEG_INF
    log_probs[:, BOS_ID] = NEG_INF
    forced = (at_limit & ~finished).nonzero().squeeze(1)
    if forced.numel():
        eos = log_probs[forced, EOS_ID]
        log_probs[forced] = NEG_INF
        log_probs[forced, EOS_ID] = eos
    done = finished.nonzero().squeeze(1)
    if done.numel():
        log_probs[done] = NEG_INF
        log_probs[done, PAD_ID] = 0.0
    return log_probs


def collect(tokens: torch.Tensor, lengths: torch.Tensor, log_probs: torch.Tensor, alpha: float,
            attention: torch.Tensor | None, src_lengths: torch.Tensor) -> list[Hypothesis]:
    """Rows of tensors -> Hypothesis objects (done once, at the end of decoding)."""
    scores = (log_probs / length_penalty(lengths, alpha)).tolist()
    token_rows, length_list, raw = tokens.tolist(), lengths.tolist(), log_probs.tolist()
    source_lengths = src_lengths.tolist()   # once: indexing a GPU tensor per row syncs per row
    hyps = []
    for row, (ids, length) in enumerate(zip(token_rows, length_list)):
        attn = None
        if attention is not None:
            attn = attention[row, :length, : source_lengths[row]].float().cpu()
        hyps.append(Hypothesis(ids[: max(0, length - 1)], scores[row], raw[row], attn))
    return hyps


def greedy_search(model, src: torch.Tensor, src_lengths: torch.Tensor, settings: DecodeSettings,
                  return_attention: bool = False) -> list[list[Hypothesis]]:
    """src (B, S), src_lengths (B,) -> for each sentence a one-element list of Hypothesis.
    Of `settings`: the output length limit and the length penalty (for the score)."""
    length_alpha = settings.length_penalty
    state = model.encode(src, src_lengths)
    batch = src.size(0)
    device = src.device
    limits = max_output_lengths(src_lengths.to(device), settings.max_ratio, settings.max_extra)
    prev = torch.full((batch,), BOS_ID, dtype=torch.long, device=device)
    finished = torch.zeros(batch, dtype=torch.bool, device=device)
    lengths = torch.zeros(batch, dtype=torch.long, device=device)
    scores = torch.zeros(batch, device=device)
    steps, weights_per_step = [], []
    for t in range(int(limits.max())):
        log_probs, state, weights = model.step(prev, state)
        log_probs = restrict(log_probs.float(), finished, t + 1 >= limits)
        best_lp, prev = log_probs.max(dim=-1)
        scores += best_lp
        lengths += (~finished).long()
        finished |= prev == EOS_ID
        steps.append(prev)
        if return_attention:
            weights_per_step.append(weights)
        if bool(finished.all()):
            break
    attention = torch.stack(weights_per_step, dim=1) if return_attention else None
    hyps = collect(torch.stack(steps, dim=1), lengths, scores, length_alpha, attention, src_lengths)
    return [[h] for h in hyps]
