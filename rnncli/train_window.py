"""The window behind metrics.jsonl's training records ("kind": "train"): sums over the steps
since the last record, kept in the loop state (so a resumed run writes the same records as
one never interrupted), and reduced over the ranks of a distributed run when a record is due."""

from __future__ import annotations

import math
from typing import Any

import torch

from rnncli.runtime import DistEnv

# finite losses (their sum and count), steps, units and seconds of computation
EMPTY_WINDOW = {"loss": 0.0, "losses": 0, "steps": 0, "units": 0, "seconds": 0.0}


def empty_window() -> dict[str, Any]:
    return dict(EMPTY_WINDOW)


def add_step(window: dict[str, Any], loss: float, units: int, seconds: float) -> None:
    """Count one step; a non-finite loss (a skipped step) counts as a step but not in the mean."""
    if math.isfinite(loss):
        window["loss"] += loss
        window["losses"] += 1
    window["steps"] += 1
    window["units"] += units
    window["seconds"] += seconds


def rank_window(saved: dict[str, Any], env: DistEnv) -> dict[str, Any]:
    """This rank's saved window (each rank sums its own losses); a single-process save, or
    one made with another number of ranks, gives the loop's (rank 0's)."""
    per_rank = saved.get("window_ranks")
    if per_rank and len(per_rank) == env.world_size:
        return dict(per_rank[env.rank])
    return dict(saved["loop"].get("window", EMPTY_WINDOW))


def window_figures(window: dict[str, Any], env: DistEnv, device: torch.device) -> tuple[float | None, float]:
    """(mean loss over the window's finite steps and all ranks, or None; units per second
    of all ranks together). Under torchrun a collective: every rank must call it."""
    totals = [float(window[k]) for k in ("loss", "losses", "units", "seconds")]
    if env.distributed:
        import torch.distributed as dist

        reduced = torch.tensor(totals, dtype=torch.float64, device=device)
        dist.all_reduce(reduced)
        totals = reduced.tolist()
    loss, losses, units, seconds = totals
    seconds /= env.world_size          # the ranks compute side by side
    return (loss / losses if losses else None), round(units / max(seconds, 1e-9), 1)
