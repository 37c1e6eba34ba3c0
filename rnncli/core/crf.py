"""Linear-chain conditional random field with hard transition constraints.

Shapes: emissions (B, T, L), tags (B, T) long, mask (B, T) bool with mask[:, 0] all True
(every sentence has at least one token; padding only at the end of a row).

Constraints (which label may start, follow another, or end a sentence) are fixed tables
given at construction; a forbidden move costs FORBIDDEN, so it never wins a max and adds
exp(-10000) = 0 to a sum. Decoding applies them by default; the training loss does not
(see `nll`). The log-partition and Viterbi are batched over sentences and
loop over time only; padded steps carry their scores (and, in Viterbi, their labels)
through unchanged, so a row's result depends on its real tokens alone.
"""

from __future__ import annotations

import torch
from torch import nn

FORBIDDEN = -10000.0


def penalty(allowed: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    """0 where allowed, FORBIDDEN where not (all allowed when no table is given)."""
    if allowed is None:
        return torch.zeros(shape)
    allowed = torch.as_tensor(allowed, dtype=torch.bool)
    if allowed.shape != shape:
        raise ValueError(f"constraint table of shape {tuple(allowed.shape)}, expected {shape}")
    return torch.where(allowed, 0.0, FORBIDDEN)


class CRF(nn.Module):
    """transitions[i, j] scores label i followed by label j; start/end score the first and
    last labels."""

    def __init__(self, num_labels: int, start_allowed=None, allowed=None, end_allowed=None):
        super().__init__()
        self.num_labels = num_labels
        self.transitions = nn.Parameter(torch.zeros(num_labels, num_labels))
        self.start = nn.Parameter(torch.zeros(num_labels))
        self.end = nn.Parameter(torch.zeros(num_labels))
        # Derived from the label set and scheme at build time: not saved with the weights.
        self.register_buffer("start_penalty", penalty(start_allowed, (num_labels,)), persistent=False)
        self.register_buffer("trans_penalty", penalty(allowed, (num_labels, num_labels)), persistent=False)
        self.register_buffer("end_penalty", penalty(end_allowed, (num_labels,)), persistent=False)

    def scores(self, constrained: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not constrained:
            return self.start, self.transitions, self.end
        return (self.start + self.start_penalty, self.transitions + self.trans_penalty,
                self.end + self.end_penalty)

    def path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
                   constrained: bool = True) -> torch.Tensor:
        """Score of the given label paths: (B,)."""
        start, trans, end = self.scores(constrained)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)            # (B, T)
        maskf = mask.to(emissions.dtype)
        total = (emitted * maskf).sum(1) + start[tags[:, 0]]
        if tags.size(1) > 1:
            moves = trans[tags[:, :-1], tags[:, 1:]]                           # (B, T-1)
            total = total + (moves * maskf[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1).clamp_min(0).unsqueeze(1)).squeeze(1)
        return total + end[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor,
                      constrained: bool = True) -> torch.Tensor:
        """log of the summed exp-scores of every (allowed) label path: (B,)."""
        start, trans, end = self.scores(constrained)
        alpha = start + emissions[:, 0]                                        # (B, L)
        for t in range(1, emissions.size(1)):
            step = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        return torch.logsumexp(alpha + end, dim=1)

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
            constrained: bool = False) -> torch.Tensor:
        """Negative log-likelihood of the gold paths: (B,). Training is unconstrained by
        default: the transition scores then learn on their own that forbidden moves are
        bad, so decoding without the tables says how much the constraints still fix."""
        emissions = emissions.float()
        return (self.log_partition(emissions, mask, constrained)
                - self.path_score(emissions, tags, mask, constrained))

    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor,
                constrained: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Best paths (B, T) (0 on padding) and their scores (B,)."""
        start, trans, end = self.scores(constrained)
        return viterbi(emissions.float(), mask, start, trans, end)

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """P(label at t | sentence) under the constrained model: (B, T, L), the gradient of
        the log-partition with respect to the emissions."""
        with torch.enable_grad():
            emissions = emissions.detach().float().requires_grad_(True)
            (grad,) = torch.autograd.grad(self.log_partition(emissions, mask).sum(), emissions)
        return grad * mask.unsqueeze(2)


def viterbi(emissions: torch.Tensor, mask: torch.Tensor, start: torch.Tensor, trans: torch.Tensor,
            end: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Max-scoring paths for given start (L,), transition (L, L) and end (L,) scores."""
    batch, length, labels = emissions.shape
    keep = torch.arange(labels, device=emissions.device).expand(batch, labels)
    score = start + emissions[:, 0]
    pointers = []
    for t in range(1, length):
        best, index = (score.unsqueeze(2) + trans).max(dim=1)                  # (B, L)
        real = mask[:, t].unsqueeze(1)
        score = torch.where(real, best + emissions[:, t], score)
        pointers.append(torch.where(real, index, keep))
    best_score, last = (score + end).max(dim=1)
    path = [last]
    for index in reversed(pointers):
        last = index.gather(1, last.unsqueeze(1)).squeeze(1)
        path.append(last)
    tags = torch.stack(path[::-1], dim=1)
    return tags * mask, best_score


def greedy_constrained(log_probs: torch.Tensor, mask: torch.Tensor, start_allowed: torch.Tensor,
                       allowed: torch.Tensor, end_allowed: torch.Tensor) -> torch.Tensor:
    """Best valid paths for independent per-token scores (a softmax tagger): Viterbi with
    transition scores 0 where allowed and FORBIDDEN where not. (B, T)."""
    zero = log_probs.new_zeros(log_probs.size(2))
    tags, _ = viterbi(log_probs.float(), mask, zero + penalty(start_allowed, zero.shape).to(zero),
                      penalty(allowed, (zero.size(0), zero.size(0))).to(zero),
                      zero + penalty(end_allowed, zero.shape).to(zero))
    return tags
