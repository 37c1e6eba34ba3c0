"""Cross-entropy with label smoothing, fused: the gradient is made during the forward pass.

`F.cross_entropy(logits, target, label_smoothing=eps)` builds log_softmax, a gather, a
mean and, on the way back, a scatter, an expand, a sum and log_softmax's own backward:
about a dozen passes over an (N, V) tensor. With an 8k vocabulary that tensor is 32 MB
per thousand target tokens, too big for cache, so each pass is a trip to memory; they
cost the translation model a tenth of its training step. The gradient of this loss has
a closed form,

    d loss / d logits = (softmax(logits) - q) / N,   q = (1 - eps) * onehot(target) + eps / V,

so the forward pass turns its log-probabilities into that gradient in place (exp, subtract,
one scatter) and the backward pass only scales it. The value equals torch's: the mean
over rows of (1 - eps) * nll + eps * (-mean log p), the uniform part spread over all V
classes, the target's included.
"""

from __future__ import annotations

import torch


class _SmoothedCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, logits: torch.Tensor, target: torch.Tensor, smoothing: float) -> torch.Tensor:
        rows, classes = logits.shape
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        nll = -log_probs.gather(1, target.unsqueeze(1)).sum()
        uniform = -log_probs.sum() / classes
        loss = ((1.0 - smoothing) * nll + smoothing * uniform) / rows
        if logits.requires_grad:
            grad = log_probs.exp_().sub_(smoothing / classes)     # softmax - eps / V, in place
            grad.scatter_add_(1, target.unsqueeze(1),
                              grad.new_full((rows, 1), smoothing - 1.0))  # - (1 - eps) at the target
            ctx.save_for_backward(grad)
            ctx.rows, ctx.dtype = rows, logits.dtype
        return loss

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (grad,) = ctx.saved_tensors
        # The saved gradient is used once: scale it in place rather than allocate another.
        grad = grad.mul_(grad_output / ctx.rows)
        return grad.to(ctx.dtype), None, None


def smoothed_cross_entropy(logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Mean label-smoothed cross-entropy of logits (N, V) against target ids (N,); the same
    value and gradient as `F.cross_entropy(logits, target, label_smoothing=smoothing)`."""
    if logits.dim() != 2 or target.shape != logits.shape[:1]:
        raise ValueError(f"logits (N, V) and target (N,) expected, got {tuple(logits.shape)} and {tuple(target.shape)}")
    if logits.size(0) == 0:
        return logits.sum() * 0.0
    return _SmoothedCrossEntropy.apply(logits, target, float(smoothing))
