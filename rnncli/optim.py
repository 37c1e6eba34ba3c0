"""Optimizers and learning-rate schedules for the training loop.

The schedule is a small class of our own rather than torch's LambdaLR/ReduceLROnPlateau
pair: its whole state is two plain numbers, so it saves and restores exactly, and its
horizon can be steps or wall time (for `--max-time` runs) without stacking schedulers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rnncli.config import TrainConfig


@dataclass(frozen=True)
class LayerPlan:
    """A model's parameters in layer groups, bottom (embedding) first, the task's new head
    last, for discriminative learning rates and gradual unfreezing (ULMFiT, Howard & Ruder
    2018). Both are pure functions of the group index and the step, so a resumed run
    scales and freezes exactly as the run that was never interrupted."""

    groups: tuple[tuple[str, ...], ...]   # parameter names per group; names in none belong to the head
    lr_decay: float = 1.0                 # each group below the head: the rate of the one above times this
    unfreeze_every: int = 0               # 0: every group trains from the start

    def lr_scale(self, index: int) -> float:
        return self.lr_decay ** (len(self.groups) - 1 - index)

    def trainable(self, index: int, step: int) -> bool:
        """Whether group `index` trains in the step taken after `step` completed steps: the
        head from the start, then one more group downwards every `unfreeze_every` steps."""
        if not self.unfreeze_every:
            return True
        return index >= len(self.groups) - 1 - step // self.unfreeze_every

    def group_of(self, names: list[str]) -> dict[str, int]:
        listed = {name: index for index, group in enumerate(self.groups) for name in group}
        return {name: listed.get(name, len(self.groups) - 1) for name in names}


def layer_params(model: torch.nn.Module, plan: LayerPlan | None) -> list[list[torch.nn.Parameter]]:
    """The model's parameters per group of the plan (unlisted ones with the head)."""
    if plan is None:
        return []
    named = dict(model.named_parameters())
    groups: list[list[torch.nn.Parameter]] = [[] for _ in plan.groups]
    for name, index in plan.group_of(list(named)).items():
        groups[index].append(named[name])
    return groups


def frozen_params(groups: list[list[torch.nn.Parameter]], plan: LayerPlan | None, step: int,
                  set_flags: bool = True) -> list[torch.nn.Parameter]:
    """The parameters gradual unfreezing keeps frozen in the step after `step` completed
    ones; with `set_flags`, each group's requires_grad follows (backward then skips the
    frozen part: cheaper). The optimizer skips parameters without a gradient, so frozen
    weights stay exactly as they are (no weight decay either)."""
    frozen: list[torch.nn.Parameter] = []
    if plan is None or not plan.unfreeze_every:
        return frozen
    for index, params in enumerate(groups):
        trainable = plan.trainable(index, step)
        if not trainable:
            frozen += params
        if set_flags:
            for param in params:
                param.requires_grad_(trainable)
    return frozen


def make_optimizer(model: torch.nn.Module, config: TrainConfig,
                   plan: LayerPlan | None = None) -> torch.optim.Optimizer:
    """AdamW (no decay on biases, norms and embeddings' padding-free 1-d params) or SGD.
    With a plan: the same two kinds per layer group, the head's first (so param_groups[0]
    carries the peak rate that logs report), each with its "lr_scale"."""
    named = [(name, param) for name, param in model.named_parameters() if param.requires_grad]
    layer = plan.group_of([name for name, _ in named]) if plan is not None else {name: 0 for name, _ in named}
    layers = range(len(plan.groups) - 1, -1, -1) if plan is not None else range(1)
    groups = []
    for index in layers:
        scale = plan.lr_scale(index) if plan is not None else 1.0
        decay = [p for name, p in named if layer[name] == index and p.ndim >= 2]
        no_decay = [p for name, p in named if layer[name] == index and p.ndim < 2]
        for params, weight_decay in ((decay, config.weight_decay), (no_decay, 0.0)):
            if plan is None:   # always the same two groups, as states saved before plans expect
                groups.append({"params": params, "weight_decay": weight_decay})
            elif params:
                groups.append({"params": params, "weight_decay": weight_decay, "lr_scale": scale})
    params = [p for _, p in named]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)
    # The fused kernel updates each tensor in one pass instead of about ten elementwise ops;
    # on the translation model (two 8k x 256 tables) that is a twentieth of a training step.
    fused = all(p.device.type in ("cpu", "cuda") and p.dtype == torch.float32 for p in params)
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
    """The scheduled rate, times each group's "lr_scale" (discriminative rates; 1 without)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
