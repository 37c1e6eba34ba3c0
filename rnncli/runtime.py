"""Devices, precision, seeding, RNG snapshots and the torchrun/DDP environment."""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass

import torch

from rnncli.errors import ConfigError


def pick_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """auto: cuda, then mps, then cpu. An unavailable explicit choice is a ConfigError."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA device is available (try --device auto)")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError("--device mps: MPS is not available on this machine (try --device auto)")
        return torch.device("mps")
    if name != "cpu":
        raise ConfigError(f"--device {name!r} is not one of: auto, cpu, cuda, mps")
    return torch.device("cpu")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for a precision choice, or None for plain fp32."""
    if device.type != "cuda":
        if precision in ("bf16", "fp16"):
            raise ConfigError(f"--precision {precision} needs a CUDA device; use fp32 on {device.type}")
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def rng_snapshot() -> dict:
    """Every RNG stream training touches, as plain tensors/values (weights_only loadable)."""
    snapshot = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
                "python_version": random.getstate()[0], "python_gauss": random.getstate()[2]}
    if torch.cuda.is_available():
        snapshot["cuda"] = torch.cuda.get_rng_state_all()
    return snapshot


def restore_rng(snapshot: dict) -> None:
    torch.set_rng_state(snapshot["torch"])
    random.setstate((snapshot["python_version"], tuple(snapshot["python"]), snapshot["python_gauss"]))
    if "cuda" in snapshot and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(snapshot["cuda"])


@dataclass(frozen=True)
class DistEnv:
    """Where this process stands in a torchrun job (world 1 when run plainly)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def dist_env() -> DistEnv:
    return DistEnv(rank=int(os.environ.get("RANK", 0)),
                   local_rank=int(os.environ.get("LOCAL_RANK", 0)),
                   world_size=int(os.environ.get("WORLD_SIZE", 1)))


def init_distributed(env: DistEnv, device: torch.device) -> None:
    """Join the torchrun process group: NCCL on GPU, gloo on CPU."""
    import torch.distributed as dist

    if env.distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)


def any_rank(flag: bool, env: DistEnv, device: torch.device) -> bool:
    """True on every rank if `flag` is true on any: keeps stop decisions in lockstep."""
    if not env.distributed:
        return flag
    import torch.distributed as dist

    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def move_to(batch, device: torch.device):
    """Move a tensor, or dicts/lists/tuples of them, to `device`; other values pass through."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: move_to(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(move_to(v, device) for v in batch)
    return batch
