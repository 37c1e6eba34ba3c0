"""The generic training loop. It knows no task: it takes a TrainJob (model, loss, batches,
evaluation) and yields events that the command line renders.

What it guarantees, whatever the task:
- exact resume: the saved state holds the latest weights, optimizer, schedule, every RNG
  stream and the data position (epoch, batch index), and epoch batches are a pure function
  of the epoch, so a resumed run continues bit for bit like one never interrupted;
- SIGINT/SIGTERM finish the current step, save, and raise Interrupted (exit 130/143);
- a non-finite loss or gradient skips the step; `max_bad_steps` in a row abort with the
  last good checkpoint intact;
- under torchrun the model is wrapped in DistributedDataParallel, batches are sharded by
  rank, every rank evaluates the whole validation set (identical weights give identical
  figures, so stop decisions agree without messages) and rank 0 alone saves.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import nn

from rnncli.checkpoint import CheckpointWriter, unwrap
from rnncli.config import TrainConfig
from rnncli.errors import Interrupted, TrainingError
from rnncli.optim import LayerPlan, LRSchedule, frozen_params, layer_params, make_optimizer, set_lr
from rnncli.runtime import (DistEnv, all_gather_objects, any_rank, autocast, autocast_dtype, dist_env,
                            init_distributed, move_to, needs_loss_scaling,
                            pick_device, restore_rng, rng_snapshot)
from rnncli.signals import StopSignal
from rnncli.train_events import Evaluated, Finished, Notice, Started, StepDone  # noqa: F401 (re-exported)
from rnncli.train_window import add_step, empty_window, rank_window, window_figures

LossFn = Callable[[nn.Module, Any], tuple[torch.Tensor, int]]
EvalFn = Callable[[nn.Module, torch.device], dict[str, float]]


@dataclass
class TrainJob:
    """What a task hands to the loop.

    loss(model, batch) -> (mean loss, units in the batch); it must call `model(...)` (the
    forward), never another method, so DistributedDataParallel sees the computation.
    epoch_batches(epoch) -> the batches of that epoch, a pure function of the epoch (seed
    your shuffling with the epoch), on the CPU; the loop moves them to the device.
    evaluate(model, device) -> metrics, run under no_grad in eval mode; must not draw from
    the global RNG.
    """

    model: nn.Module
    loss: LossFn
    epoch_batches: Callable[[int], Sequence[Any]]
    evaluate: EvalFn
    metric: str
    maximize: bool
    unit: str = "tokens"
    layers: LayerPlan | None = None   # layer groups: discriminative rates, gradual unfreezing


@dataclass
class LoopState:
    """Everything about the run's position; saved with the weights and restored on resume."""

    step: int = 0
    epoch: int = 0
    batch_index: int = 0
    best: float | None = None
    best_step: int | None = None
    evals_since_best: int = 0
    last_eval_step: int = -1
    bad_in_row: int = 0
    skipped: int = 0
    elapsed_before: float = 0.0
    units: int = 0
    window: dict = field(default_factory=empty_window)   # steps since the last "train" record
    recent: deque = field(default_factory=lambda: deque(maxlen=50))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("step", "epoch", "batch_index", "best", "best_step",
                                              "evals_since_best", "last_eval_step", "bad_in_row",
                                              "skipped", "elapsed_before", "units", "window")}

    def load(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            setattr(self, key, value)


def rank_rng(saved: dict[str, Any], env: DistEnv) -> dict[str, Any]:
    """This rank's saved RNG streams. A single-process save, or one made with another
    number of ranks (sharding differs then, so exactness is lost anyway), gives rank 0's."""
    per_rank = saved.get("rng_ranks")
    if per_rank and len(per_rank) == env.world_size:
        return per_rank[env.rank]
    return saved["rng"]


def has_fused_dropout(model: nn.Module) -> bool:
    """Whether a fused RNN in the model drops out between its layers (inside the kernel)."""
    return any(isinstance(m, nn.RNNBase) and m.num_layers > 1 and m.dropout > 0 for m in model.modules())


def shard(batches: Sequence[Any], rank: int, world: int) -> Sequence[Any]:
    """This rank's batches; every rank gets the same count so collectives never wait forever."""
    if world == 1:
        return batches
    usable = len(batches) // world * world
    return batches[rank:usable:world]


class Trainer:
    """Holds the run's objects; `run()` is the generator the CLI iterates."""

    def __init__(self, job: TrainJob, config: TrainConfig, writer: CheckpointWriter | None = None,
                 resume_state: dict[str, Any] | None = None, stop: StopSignal | None = None):
        self.job, self.config, self.stop = job, config, stop or StopSignal()
        self.env = dist_env()
        self.device = pick_device(config.device, self.env.local_rank)
        init_distributed(self.env, self.device)
        self.writer = writer if self.env.is_main else None
        self.amp_dtype = autocast_dtype(config.precision, self.device)
        self.model = job.model.to(self.device)
        self.optimizer = make_optimizer(self.model, config, job.layers)
        self.schedule = LRSchedule(config)
        self.scaler = torch.amp.GradScaler("cuda", enabled=needs_loss_scaling(self.amp_dtype, self.device))
        self.state = LoopState()
        self.resumed = resume_state is not None
        if resume_state is not None:
            self.restore(resume_state)
        else:
            # Dropout streams differ per rank; model init already happened under the seed.
            torch.manual_seed(config.seed * 7919 + self.env.rank)
        self.wrapped = self.wrap_distributed()
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.layer_params = layer_params(self.model, job.layers)
        self.cudnn_dropout = self.device.type == "cuda" and has_fused_dropout(self.model)
        self.start_time = time.monotonic()       # of this invocation: --max-time counts from here
        self.elapsed_offset = self.state.elapsed_before  # time spent by earlier invocations

    def wrap_distributed(self) -> nn.Module:
        if not self.env.distributed:
            return self.model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=ids)

    # ---- state -------------------------------------------------------------------------
    def snapshot(self, ranks: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
        loop = {**self.state.to_dict(), "elapsed_before": self.total_elapsed()}
        state = {"loop": loop, "model": unwrap(self.model).state_dict(),
                 "optimizer": self.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
                 "scaler": self.scaler.state_dict(), "rng": ranks[0][0]}
        if self.env.distributed:
            state["rng_ranks"], state["window_ranks"] = [r for r, _ in ranks], [w for _, w in ranks]
        return state

    def restore(self, saved: dict[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.schedule.load_state_dict(saved["schedule"])
        if saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])
        self.state.load(saved["loop"])
        self.state.window = rank_window(saved, self.env)
        restore_rng(rank_rng(saved, self.env), self.device)

    def save_state(self) -> None:
        # Every rank draws its own dropout masks and sums its own losses, so every rank's streams
        # and loss window are saved; a collective, so all ranks come here; rank 0 alone writes.
        ranks = all_gather_objects((rng_snapshot(self.device), dict(self.state.window)), self.env)
        if self.writer is not None:
            self.writer.save_state(self.snapshot(ranks), self.state.step)

    def run_elapsed(self) -> float:
        return time.monotonic() - self.start_time

    def total_elapsed(self) -> float:
        return self.elapsed_offset + self.run_elapsed()

    # ---- the loop ----------------------------------------------------------------------
    def run(self) -> Iterator[Any]:
        config, state = self.config, self.state
        steps_per_epoch = max(1, len(shard(self.job.epoch_batches(state.epoch), self.env.rank,
                                           self.env.world_size)))
        self.total_steps = config.max_steps or config.epochs * steps_per_epoch
        if config.max_steps:
            self.total_steps = min(config.max_steps, config.epochs * steps_per_epoch)
        yield Started(self.total_steps, steps_per_epoch, state.step, self.resumed, str(self.device),
                      self.env.world_size, sum(p.numel() for p in self.params), self.job.unit,
                      config.max_time)
        reason = yield from self.epochs()
        for param in self.params:   # what gradual unfreezing froze is trainable again
            param.requires_grad_(True)
        if state.last_eval_step != state.step:
            yield from self.evaluate()
        self.save_state()
        yield Finished(reason, state.step, self.job.metric, state.best, state.best_step,
                       state.skipped, self.total_elapsed(), state.units)

    def epochs(self) -> Iterator[Any]:
        config, state = self.config, self.state
        while state.epoch < config.epochs:
            batches = shard(self.job.epoch_batches(state.epoch), self.env.rank, self.env.world_size)
            while state.batch_index < len(batches):
                reason = self.limit_reached()
                if reason:
                    return reason
                yield from self.step(batches[state.batch_index])
                if config.log_every and state.step % config.log_every == 0:
                    self.log_training()
                if config.eval_every and state.step % config.eval_every == 0 and (yield from self.evaluate_patiently()):
                    return "early stopping"
                self.check_signal()
            state.epoch += 1
            state.batch_index = 0
            if config.eval_every is None and (yield from self.evaluate_patiently()):
                return "early stopping"
        return "completed"

    def limit_reached(self) -> str | None:
        config = self.config
        if config.max_steps and self.state.step >= config.max_steps:
            return "max steps"
        over_time = bool(config.max_time) and self.run_elapsed() >= config.max_time * 60
        if any_rank(over_time, self.env, self.device):
            return "max time"
        return None

    def evaluate_patiently(self) -> Iterator[Any]:   # evaluate; True, saying why, when patience runs out
        yield from self.evaluate()
        patience, state = self.config.patience, self.state
        if ran_out := bool(patience) and state.evals_since_best >= patience:
            yield Notice(f"early stopping: no improvement in {patience} evaluations since step {state.best_step}")
        return ran_out

    def check_signal(self) -> None:
        if any_rank(self.stop.signum is not None, self.env, self.device):
            signum = self.stop.signum or 15
            self.save_state()
            where = f" in {self.writer.directory}" if self.writer else ""
            raise Interrupted(signum, f"stopped by signal at step {self.state.step}; state saved{where}; "
                                      "continue with --resume")

    def progress(self) -> float:
        fraction = self.state.step / max(1, self.total_steps)
        if self.config.max_time:
            fraction = max(fraction, self.run_elapsed() / (self.config.max_time * 60))
        return min(1.0, fraction)

    def step(self, batch: Any) -> Iterator[Any]:
        state, config = self.state, self.config
        started = time.monotonic()
        lr = config.lr * self.schedule.scale(state.step + 1, self.progress())
        set_lr(self.optimizer, lr)
        # gradual unfreezing follows the step alone: a resumed run freezes what the whole one did
        frozen = frozen_params(self.layer_params, self.job.layers, state.step, not self.env.distributed)
        self.wrapped.train()
        if self.cudnn_dropout:
            self.reseed_cudnn_dropout()
        batch = move_to(batch, self.device)
        with autocast(self.device, self.amp_dtype):
            loss, units = self.job.loss(self.wrapped, batch)
        self.scaler.scale(loss).backward()
        for param in frozen:   # DDP needs every parameter to require a gradient: drop them here
            param.grad = None
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.params, config.clip_norm or math.inf)
        loss_value = float(loss.detach())
        finite = math.isfinite(loss_value) and math.isfinite(float(norm))
        state.step += 1
        state.batch_index += 1
        if finite or self.scaler.is_enabled() and math.isfinite(loss_value):
            self.scaler.step(self.optimizer)   # with fp16 the scaler itself skips inf steps
            self.scaler.update()
            state.bad_in_row = 0
        else:
            self.scaler.update()
            yield from self.skip_step(loss_value)
        self.optimizer.zero_grad(set_to_none=True)
        state.units += units
        state.recent.append((units, time.monotonic() - started))
        add_step(state.window, loss_value, units, state.recent[-1][1])
        done_units, seconds = (sum(x) for x in zip(*state.recent))
        yield StepDone(state.step, state.epoch, loss_value, lr, done_units / max(seconds, 1e-9),
                       self.progress(), self.total_elapsed())

    def log_training(self) -> None:
        """A "train" record: the mean loss since the last one, this step's rate, units/s."""
        state = self.state
        loss, speed = window_figures(state.window, self.env, self.device)   # a collective
        if self.writer is not None:
            self.writer.log({"kind": "train", "step": state.step, "epoch": state.epoch, "loss": loss,
                             "lr": self.optimizer.param_groups[0]["lr"], "units_per_s": speed,
                             "unit": self.job.unit, "steps": state.window["steps"],
                             "elapsed": round(self.total_elapsed(), 3)}, defer=True)
        state.window = empty_window()

    def reseed_cudnn_dropout(self) -> None:
        """cuDNN keeps the dropout state between a fused RNN's layers to itself and advances
        it outside torch's CUDA generator, so a resumed run would draw other masks. Setting
        the generator's state (to itself) makes torch re-seed cuDNN's state from the
        generator at the next call: each step's masks then follow the saved stream."""
        torch.cuda.set_rng_state(torch.cuda.get_rng_state(self.device), self.device)

    def skip_step(self, loss_value: float) -> Iterator[Any]:
        state = self.state
        state.skipped += 1
        state.bad_in_row += 1
        yield Notice(f"step {state.step}: non-finite loss or gradient ({loss_value}); step skipped "
                     f"({state.bad_in_row} in a row, {state.skipped} in all)")
        if state.bad_in_row >= self.config.max_bad_steps:
            where = f"; the last good checkpoint in {self.writer.directory} is intact" if self.writer else ""
            raise TrainingError(f"{state.bad_in_row} non-finite steps in a row at step {state.step}{where}; "
                                "try a lower --lr or --clip-norm")

    def evaluate(self) -> Iterator[Any]:
        state, job = self.state, self.job
        model = unwrap(self.model)
        model.eval()
        with torch.no_grad():  # fp32, like `rnncli eval`, so logged and re-scored figures agree
            metrics = {k: float(v) for k, v in job.evaluate(model, self.device).items()}
        model.train()
        value = metrics[job.metric]
        improved = state.best is None or (value > state.best if job.maximize else value < state.best)
        if improved:
            state.best, state.best_step, state.evals_since_best = value, state.step, 0
            if self.writer is not None:
                self.writer.save_best(self.model, state.step, job.metric, value)
        else:
            state.evals_since_best += 1
        self.schedule.observe(improved)
        state.last_eval_step = state.step
        if self.writer is not None:
            self.writer.log({"kind": "eval", "step": state.step, "epoch": state.epoch, **metrics,
                             "lr": self.optimizer.param_groups[0]["lr"],
                             "elapsed": round(self.total_elapsed(), 3)})
        self.save_state()
        yield Evaluated(state.step, state.epoch, metrics, job.metric, improved, state.best, state.best_step)


def train(job: TrainJob, config: TrainConfig, writer: CheckpointWriter | None = None,
          resume_state: dict[str, Any] | None = None, stop: StopSignal | None = None) -> Iterator[Any]:
    """Run training, yielding Started, StepDone, Evaluated, Notice and Finished events."""
    trainer = Trainer(job, config, writer, resume_state, stop)
    try:
        yield from trainer.run()
    finally:
        if trainer.env.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
