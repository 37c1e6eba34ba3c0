"""The events the training loop (training.py) yields and the command line renders:
Started, StepDone (each step), Evaluated (each evaluation), Notice (a message) and
Finished. Plain records, so any front end can show them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Started:
    total_steps: int
    steps_per_epoch: int
    start_step: int
    resumed: bool
    device: str
    world_size: int
    parameters: int
    unit: str
    max_time: float | None


@dataclass
class StepDone:
    step: int
    epoch: int
    loss: float
    lr: float
    units_per_s: float
    progress: float
    elapsed: float


@dataclass
class Evaluated:
    step: int
    epoch: int
    metrics: dict[str, float]
    metric: str
    improved: bool
    best_value: float
    best_step: int


@dataclass
class Notice:
    text: str


@dataclass
class Finished:
    reason: str
    step: int
    metric: str
    best_value: float | None
    best_step: int | None
    skipped_steps: int
    elapsed: float
    units: int = 0
