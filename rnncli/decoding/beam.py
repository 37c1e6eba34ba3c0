"""Batched beam search: B sentences x K beams live as B*K rows of tensors.

Each step is four small functions:
- expand: one decoder step for every row; finished rows may only add PAD at no cost
  (so they stay in the beam, masked, with their score frozen), rows at their length
  limit may only add EOS;
- score: the candidates' cumulative log-probabilities and rank scores, the GNMT
  length-normalised values (finished rows keep their final length);
- select: the K best candidates per sentence, and the reordering of
  tokens, scores, lengths, attention and decoder state that follows;
- finish: mark rows that produced EOS; a sentence is done once its best-ranked rows have
  ended (beam_stop "best") or no live row can still reach its n-best list ("exact", an
  exact bound; see `finish`): its finished rows are sorted by
  rank score into its n-best list and leave the tensors, so later steps only compute
  live sentences.
There is no per-hypothesis Python bookkeeping during the search.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnncli.config import DecodeSettings
from rnncli.decoding.greedy import (BOS_ID, EOS_ID, NEG_INF, Hypothesis, collect, length_penalty,
                                    max_output_lengths, restrict)


@dataclass
class Beams:
    """The search state; every tensor has B*K rows, sentence-major (row = b * K + k)."""

    tokens: torch.Tensor          # (B*K, t) produced so far (PAD after EOS)
    scores: torch.Tensor          # (B*K,) cumulative log-probability
    lengths: torch.Tensor         # (B*K,) tokens produced, EOS included
    finished: torch.Tensor        # (B*K,) bool
    limits: torch.Tensor          # (B*K,) most tokens allowed
    decoder: object               # DecoderState of the model
    attention: torch.Tensor | None  # (B*K, t, S) when asked for
    beam: int

    @property
    def batch(self) -> int:
        return self.scores.size(0) // self.beam


def start(model, src: torch.Tensor, src_lengths: torch.Tensor, beam: int, max_ratio: float,
          max_extra: int, return_attention: bool) -> Beams:
    """Encode once, then copy each sentence's state K times; only beam 0 starts alive so
    the first step does not pick K copies of the same token."""
    batch, device = src.size(0), src.device
    decoder = model.encode(src, src_lengths).repeat(beam)
    scores = torch.zeros(batch, beam, device=device)
    scores[:, 1:] = NEG_INF
    limits = max_output_lengths(src_lengths.to(device), max_ratio, max_extra).repeat_interleave(beam)
    rows = batch * beam
    attention = torch.zeros(rows, 0, src.size(1), device=device) if return_attention else None
    return Beams(torch.full((rows, 0), BOS_ID, dtype=torch.long, device=device), scores.view(-1),
                 torch.zeros(rows, dtype=torch.long, device=device),
                 torch.zeros(rows, dtype=torch.bool, device=device), limits, decoder, attention, beam)


def expand(model, beams: Beams) -> tuple[torch.Tensor, torch.Tensor]:
    """-> allowed log-probs (B*K, V) of the next token, and attention weights (B*K, S)."""
    step = beams.tokens.size(1)
    prev = beams.tokens[:, -1] if step else torch.full_like(beams.lengths, BOS_ID)
    log_probs, beams.decoder, weights = model.step(prev, beams.decoder)
    return restrict(log_probs.float(), beams.finished, step + 1 >= beams.limits), weights


def score(beams: Beams, log_probs: torch.Tensor, alpha: float) -> tuple[torch.Tensor, ...]:
    """-> cumulative log-probs, rank scores and tokens of the candidates, each (B, K * k).

    A row's length penalty is the same for all its tokens, so a sentence's K best
    candidates are among the K best tokens of each of its rows: taking those first keeps
    the vocabulary-sized work to one topk."""
    top_log_probs, top_tokens = log_probs.topk(min(beams.beam, log_probs.size(1)), dim=1)  # (N, k)
    cumulative = beams.scores.unsqueeze(1) + top_log_probs
    new_lengths = beams.lengths + (~beams.finished).long()
    rank = cumulative / length_penalty(new_lengths, alpha).unsqueeze(1)
    batch = beams.batch
    return cumulative.view(batch, -1), rank.view(batch, -1), top_tokens.view(batch, -1)


def select(beams: Beams, cumulative: torch.Tensor, rank: torch.Tensor, tokens: torch.Tensor,
           weights: torch.Tensor) -> None:
    """Keep the K best candidates of each sentence; reorder every row-wise tensor to match."""
    per_row = tokens.size(1) // beams.beam
    _, best = rank.topk(beams.beam, dim=1)                          # (B, K) over K * k
    offsets = torch.arange(beams.batch, device=best.device).unsqueeze(1) * beams.beam
    origin = (best // per_row + offsets).view(-1)                   # source row of each new row
    token = tokens.gather(1, best).view(-1)
    beams.scores = cumulative.gather(1, best).view(-1)
    beams.lengths = beams.lengths[origin] + (~beams.finished[origin]).long()
    beams.finished = beams.finished[origin]
    beams.tokens = torch.cat([beams.tokens[origin], token.unsqueeze(1)], dim=1)
    if beams.attention is not None:
        beams.attention = torch.cat([beams.attention[origin], weights[origin].unsqueeze(1)], dim=1)
    beams.decoder = beams.decoder.select(origin)


def finish(beams: Beams, n_best: int, alpha: float, exact: bool) -> torch.Tensor:
    """Mark rows that just produced EOS; -> (B,) True for sentences whose n-best is settled.

    exact: a live row's cumulative log-probability can only fall, and its length penalty
    can grow at most to that of its length limit, so `score / penalty(limit)` bounds every
    rank it can still reach. Once a sentence's n_best-th finished rank is at least the
    best such bound among its live rows, nothing can change its n-best list: it stops
    there, with exactly the result of running every row to EOS, in fewer steps.
    Otherwise ("best"), a live row counts at its rank now, `score / penalty(length)`: the
    sentence stops once its n_best best-ranked rows have all ended, which is OpenNMT-py's
    and Marian's rule. The bound is loose (with alpha 0.6 it keeps a sentence going long
    after its best hypothesis ended): on Multi30k val "best" computes 16% fewer decoder rows."""
    beams.finished = beams.finished | (beams.tokens[:, -1] == EOS_ID)
    shape = (beams.batch, beams.beam)
    finished = beams.finished.view(shape)
    rank = (beams.scores / length_penalty(beams.lengths, alpha)).view(shape)
    bound = (beams.scores / length_penalty(beams.limits if exact else beams.lengths, alpha)).view(shape)
    best_live = bound.masked_fill(finished, NEG_INF).amax(dim=1)
    settled_rank = rank.masked_fill(~finished, NEG_INF).topk(min(n_best, beams.beam), dim=1).values[:, -1]
    return finished.all(dim=1) | (settled_rank >= best_live)


def take(beams: Beams, sentences: torch.Tensor) -> Beams:
    """The rows of the sentences marked in `sentences` (B,) bool, as a smaller search state."""
    rows = sentences.repeat_interleave(beams.beam).nonzero().squeeze(1)
    attention = beams.attention[rows] if beams.attention is not None else None
    return Beams(beams.tokens[rows], beams.scores[rows], beams.lengths[rows], beams.finished[rows],
                 beams.limits[rows], beams.decoder.take(rows), attention, beams.beam)


def n_best_lists(beams: Beams, n_best: int, alpha: float, src_lengths: torch.Tensor) -> list[list[Hypothesis]]:
    """Each sentence's finished rows, best rank score first, at most n_best; live rows left
    by an early stop and rows that never held a real hypothesis (score -inf, e.g. a
    vocabulary smaller than the beam) are left out."""
    final_rank = (beams.scores / length_penalty(beams.lengths, alpha)).masked_fill(~beams.finished, NEG_INF)
    top_rank, order = final_rank.view(beams.batch, beams.beam).topk(n_best, dim=1)
    rows = (order + torch.arange(beams.batch, device=order.device).unsqueeze(1) * beams.beam).view(-1)
    attention = beams.attention[rows] if beams.attention is not None else None
    hyps = collect(beams.tokens[rows], beams.lengths[rows], beams.scores[rows], alpha, attention,
                   src_lengths.repeat_interleave(n_best))
    keep = (top_rank.view(-1) > NEG_INF).tolist()
    return [[h for h, real in zip(hyps[i:i + n_best], keep[i:i + n_best]) if real]
            for i in range(0, len(hyps), n_best)]


def beam_search(model, src: torch.Tensor, src_lengths: torch.Tensor, settings: DecodeSettings,
                return_attention: bool = False) -> list[list[Hypothesis]]:
    """src (B, S), src_lengths (B,) -> per sentence up to n_best Hypothesis, best first.
    Of `settings`: beam, n_best, length_penalty, beam_stop and the output length limit."""
    beam, n_best, length_alpha = settings.beam, settings.n_best, settings.length_penalty
    beams = start(model, src, src_lengths, beam, settings.max_ratio, settings.max_extra, return_attention)
    results: list[list[Hypothesis]] = [[] for _ in range(src.size(0))]
    active = torch.arange(src.size(0), device=src.device)   # original index of each sentence
    while True:
        log_probs, weights = expand(model, beams)
        cumulative, rank, tokens = score(beams, log_probs, length_alpha)
        select(beams, cumulative, rank, tokens, weights)
        done = finish(beams, n_best, length_alpha, settings.beam_stop == "exact")
        if bool(done.any()):
            # Finished sentences leave the batch, so later steps compute only what is live.
            done_ids = active[done]
            finished = n_best_lists(take(beams, done), n_best, length_alpha, src_lengths[done_ids.cpu()])
            for index, hyps in zip(done_ids.tolist(), finished):
                results[index] = hyps
            if bool(done.all()):
                return results
            beams, active = take(beams, ~done), active[~done]
