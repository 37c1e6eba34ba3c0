"""Optimizers and learning-rate schedules for the training loop.

The schedule is a small class of our own rather than torch's LambdaLR/ReduceLROnPlateau
pair: its whole state is two plain numbers, so it saves and restores exactly, and its
horizon can be steps or wall time (for `--max-time` runs) without stacking schedulers.
"""

from __future__ import annotations

import math

import torch

from rnncli.config import TrainConfig


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (no decay on biases, norms and embeddings' padding-free 1-d params) or SGD."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    # The fused kernel updates each tensor in one pass instead of about ten elementwise ops;
    # on the translation model (two 8k x 256 tables) that is a twentieth of a training step.
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype == torch.float32 for p in decay + no_decay)
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99), fused=fused or None)


class LRSchedule:
    """Linear warmup, then cosine / inverse-sqrt / constant / reduce-on-plateau.

    `progress` is the fraction of the run done (steps or time, whichever is further), so
    cosine reaches its floor when a `--max-time` budget runs out.
    """

    def __init__(self, config: TrainConfig):
        self.kind = config.schedule
        self.warmup = config.warmup
        self.min_ratio = config.min_lr_ratio
        self.factor = config.plateau_factor
        self.patience = config.plateau_patience
        self.plateau_scale = 1.0
        self.bad_evals = 0

    def scale(self, step: int, progress: float) -> float:
        """LR multiplier for optimizer step number `step` (1-based)."""
        if self.warmup and step <= self.warmup and self.kind != "inverse-sqrt":
            return step / self.warmup
        if self.kind == "cosine":
            cosine = 0.5 * (1.0 + math.cos(math.pi * min(1.0, max(0.0, progress))))
            return self.min_ratio + (1.0 - self.min_ratio) * cosine
        if self.kind == "inverse-sqrt":
            warmup = max(1, self.warmup)
            return min(step / warmup, math.sqrt(warmup / max(step, 1)))
        if self.kind == "plateau":
            return self.plateau_scale
        return 1.0

    def observe(self, improved: bool) -> None:
        """Called after each evaluation; only the plateau schedule reacts."""
        if self.kind != "plateau":
            return
        self.bad_evals = 0 if improved else self.bad_evals + 1
        if self.bad_evals > self.patience:
            self.plateau_scale *= self.factor
            self.bad_evals = 0

    def state_dict(self) -> dict:
        return {"plateau_scale": self.plateau_scale, "bad_evals": self.bad_evals}

    def load_state_dict(self, state: dict) -> None:
        self.plateau_scale = float(state["plateau_scale"])
        self.bad_evals = int(state["bad_evals"])


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
