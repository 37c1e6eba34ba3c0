"""Quantile outputs: monotone quantiles from free outputs, and the pinball loss.

Shapes: raw (..., Q) -> quantiles (..., Q), increasing along the last axis.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def median_index(quantiles: tuple[float, ...]) -> int:
    """The position of the quantile nearest 0.5 (the point forecast)."""
    return min(range(len(quantiles)), key=lambda j: abs(quantiles[j] - 0.5))


def monotone_quantiles(raw: torch.Tensor, middle: int) -> torch.Tensor:
    """raw (..., Q) -> quantiles (..., Q) with q_0 <= q_1 <= ... <= q_{Q-1}.

    raw[..., middle] is the median itself; the others are softplus gaps stacked outwards
    from it, so quantiles never cross whatever the network outputs, and each gap's
    gradient reaches only the gap it sizes (and those beyond it).
    """
    centre = raw[..., middle:middle + 1]
    above = F.softplus(raw[..., middle + 1:]).cumsum(-1)
    below = F.softplus(raw[..., :middle].flip(-1)).cumsum(-1).flip(-1)
    return torch.cat([centre - below, centre, centre + above], dim=-1)


def pinball_loss(predicted: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean pinball loss. predicted (..., Q), target (...), quantiles (Q,), weight (...) or None.

    rho_q(u) = max(q u, (q - 1) u) with u = target - predicted; its minimiser over a
    distribution is the q-quantile, so one network output per q learns that quantile.
    """
    error = target.unsqueeze(-1) - predicted
    loss = torch.maximum(quantiles * error, (quantiles - 1) * error)
    if weight is not None:
        loss = loss * weight.unsqueeze(-1)
    return loss.mean()
