"""Devices, precision, seeding, RNG snapshots and the torchrun/DDP environment."""

from __future__ import annotations

import contextlib
import functools
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


@functools.lru_cache(maxsize=None)
def rnn_compute_dtype(device: torch.device, dtype: torch.dtype) -> torch.dtype:
    """The dtype a fused RNN really computes in under autocast(dtype) on `device`.

    torch's autocast wrapper for cuDNN RNNs casts to float16 whatever dtype autocast asks
    for (aten/src/ATen/cudnn/AutocastRNN.cpp; still so in torch 2.11), so under bf16 the
    recurrent layers run in fp16. A one-unit RNN is asked rather than this assumed, so a
    torch that honours bf16 is taken at its word.
    """
    with torch.random.fork_rng(devices=[]):  # building the probe must not move seeded streams
        probe = torch.nn.RNN(1, 1).to(device)
    with torch.no_grad(), autocast(device, dtype):
        out, _ = probe(torch.zeros(1, 1, 1, device=device))
    return out.dtype


def needs_loss_scaling(dtype: torch.dtype | None, device: torch.device) -> bool:
    """Whether training needs a GradScaler: wherever part of the model computes in fp16,
    whose small gradients underflow to zero without one. That is fp16 autocast, and bf16
    autocast too while cuDNN runs the recurrent layers in fp16 (rnn_compute_dtype)."""
    if dtype is None or device.type != "cuda":
        return False
    return dtype == torch.float16 or rnn_compute_dtype(device, dtype) == torch.float16


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def rng_snapshot(device: torch.device | None = None) -> dict:
    """Every RNG stream training touches, as plain tensors/values (weights_only loadable).

    Of the GPUs, only the training device's generator: a state of every visible GPU would
    not restore on a machine with fewer, and under torchrun each rank draws on its own."""
    snapshot = {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]),
                "python_version": random.getstate()[0], "python_gauss": random.getstate()[2]}
    if device is not None and device.type == "cuda":
        snapshot["cuda"] = torch.cuda.get_rng_state(device)
    return snapshot


def restore_rng(snapshot: dict, device: torch.device | None = None) -> None:
    torch.set_rng_state(snapshot["torch"])
    random.setstate((snapshot["python_version"], tuple(snapshot["python"]), snapshot["python_gauss"]))
    state = snapshot.get("cuda")
    if state is None or device is None or device.type != "cuda":
        return  # a run moved between CPU and GPU keeps its CPU streams only
    if isinstance(state, (list, tuple)):  # saved by older versions: one state per visible GPU
        index = device.index or 0
        if index >= len(state):
            return
        state = state[index]
    torch.cuda.set_rng_state(state, device)


def gather_rng(snapshot: dict, env: "DistEnv") -> list[dict]:
    """Every rank's RNG snapshot, in rank order. A collective: all ranks must call it."""
    if not env.distributed:
        return [snapshot]
    import torch.distributed as dist

    gathered: list = [None] * env.world_size
    dist.all_gather_object(gathered, snapshot)
    return gathered


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


# ---- inference over torchrun: every rank reads the whole input, works on its share of
# the chunks, and the results meet on every rank (so an error on one stops them all) -----
@contextlib.contextmanager
def inference_group(device_name: str):
    """The DistEnv of sharded inference: under torchrun, join the group and leave it at the
    end (a group left standing aborts the process at exit).

    gloo on any device: ranks exchange only output text (pickled objects), which gloo moves
    from CPU memory; NCCL would need one GPU per rank, while several ranks may share one."""
    env = dist_env()
    if not env.distributed:
        yield env
        return
    import torch.distributed as dist

    pin_local_gpu(device_name, env)
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    try:
        yield env
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def pin_local_gpu(device_name: str, env: DistEnv) -> None:
    """Give each rank of a machine its own GPU, where there are several: the inference
    loaders put a model on the first visible GPU, so this rank's GPU is made the only
    visible one, before CUDA starts (torch reads CUDA_VISIBLE_DEVICES then)."""
    if device_name not in ("auto", "cuda") or int(os.environ.get("LOCAL_WORLD_SIZE", "1")) < 2:
        return
    if not torch.cuda.is_available() or torch.cuda.is_initialized() or torch.cuda.device_count() < 2:
        return
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
    os.environ["CUDA_VISIBLE_DEVICES"] = ids[env.local_rank % len(ids)]


def all_gather_objects(obj, env: DistEnv) -> list:
    """Every rank's `obj`, in rank order. A collective: all ranks must call it."""
    if not env.distributed:
        return [obj]
    import torch.distributed as dist

    gathered: list = [None] * env.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj, env: DistEnv):
    """Rank 0's `obj` on every rank. A collective: all ranks must call it."""
    if not env.distributed:
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]
