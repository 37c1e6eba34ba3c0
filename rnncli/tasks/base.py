"""The task seam: the steps a task owns (`Task`) and the one driver (`train`) that runs the
shared training skeleton for any of them.

    driver                                     task (a fresh instance per run)
    check and lock the output directory
    settings: fresh, or saved + what may change
    read each input file once, fingerprint it
                                               read_data(sources)       read and check
    seed every generator
                                               build_tokenizers()       (load_tokenizers on resume)
                                               build_model()
                                               adjust_training(train)   (fresh runs)
    config.json, tokenizer files                save_files(directory), describe()
    the generic loop                           epoch_batches(epoch), loss(model, batch),
                                               evaluate(model, device)
    best weights back in the model             after_training(model, device)  (config entries)
    a run that fails before its first save leaves nothing behind

Inference: `Task.load(checkpoint, device, ...)` returns the task's predictor, the object
`rnncli.load` hands to users.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterator, Sequence

from rnncli.version import __version__
from rnncli.checkpoint import (CheckpointWriter, fingerprint, load_trainer_state, load_weights, read_config,
                               weights_run_id, write_config)
from rnncli.config import RESUME_OVERRIDABLE, Settings, TrainConfig
from rnncli.errors import CheckpointError, ConfigError, DataError
from rnncli.readers.text import Source
from rnncli.runtime import dist_env
from rnncli.training import Finished, Notice, TrainJob


@dataclass(frozen=True)
class Run:
    """One training run, built once at the edge (command line, config file or Python API)."""

    task: str
    files: dict[str, Path | None]         # input name -> path (None: not given)
    out: Path
    train: TrainConfig
    settings: Settings                     # the task's data and model options
    resume: bool = False
    overwrite: bool = False
    given: frozenset[str] = field(default_factory=frozenset)   # option names set explicitly


class Task:
    """The steps of one task. Subclasses set the class attributes and implement the steps;
    the driver calls them in the order of the module docstring."""

    name: ClassVar[str]
    metric: ClassVar[str]          # the validation figure that picks the best checkpoint
    maximize: ClassVar[bool]
    unit: ClassVar[str]            # what throughput counts (tokens, sentences)
    model_class: ClassVar[type]
    model_config: ClassVar[type]

    def __init__(self, settings: Settings, train: TrainConfig, saved: dict[str, Any] | None = None):
        self.settings, self.train, self.saved = settings, train, saved
        self.notes: list[str] = []    # messages for the user, yielded by the driver as Notice
        self.vocab: Any = None        # the tokenizer(s), whatever this task needs

    # ---- training steps --------------------------------------------------------------------
    def read_data(self, sources: dict[str, Source | None]) -> None:
        raise NotImplementedError

    def build_tokenizers(self) -> Any:
        raise NotImplementedError

    @classmethod
    def load_tokenizers(cls, directory: Path, config: dict[str, Any]) -> Any:
        raise NotImplementedError

    def build_model(self):
        raise NotImplementedError

    @classmethod
    def fresh_settings(cls, settings: Settings, train: TrainConfig, given: frozenset[str]) -> Settings:
        """The task's settings for a fresh run once options may decide others (--init-from
        takes the architecture from a language model); `given`: the options set explicitly."""
        return settings

    def layer_plan(self, model):
        """The model's layer groups for discriminative rates and gradual unfreezing
        (optim.LayerPlan), or None."""
        return None

    def adjust_training(self, train: TrainConfig) -> TrainConfig:
        """Training settings that depend on the data (fresh runs only; saved on resume)."""
        return train

    def epoch_batches(self, epoch: int) -> Sequence[Any]:
        raise NotImplementedError

    def loss(self, model, batch) -> tuple[Any, int]:
        raise NotImplementedError

    def evaluate(self, model, device) -> dict[str, float]:
        raise NotImplementedError

    def after_training(self, model, device) -> dict[str, Any] | None:
        """Entries for config.json computed from the best weights once the loop has finished
        (classify and tag fit a temperature here); rank 0 only. None: nothing to add."""
        return None

    def describe(self) -> dict[str, Any]:
        """Entries of config.json beyond model, options and data (labels, tokenizer, ...)."""
        return {}

    def save_files(self, directory: Path) -> None:
        """Tokenizer files and anything else inference needs besides the weights."""
        raise NotImplementedError

    # ---- inference ---------------------------------------------------------------------------
    @classmethod
    def load(cls, checkpoint: Path, device: str = "auto", **options: Any):
        raise NotImplementedError

    @classmethod
    def evaluate_checkpoint(cls, checkpoint: Path, data: list[str], device: str = "auto", **options: Any):
        """`rnncli eval CKPT DATA...`: the predictor's report (options it does not use are ignored)."""
        return cls.load(checkpoint, device).evaluate(data, **options)

    @classmethod
    def load_parts(cls, checkpoint: str | Path, device: str = "auto"):
        """(config, tokenizers, model in eval mode on its device, device): what every
        predictor starts from."""
        from rnncli.runtime import pick_device

        checkpoint = Path(checkpoint)
        for attempt in range(3):   # a run replacing the checkpoint under --overwrite: read again
            config = read_config(checkpoint, cls.name)
            vocab = cls.load_tokenizers(checkpoint, config)
            model = model_from_config(cls, checkpoint, config)
            try:
                load_weights(checkpoint, model, config.get("run_id"))
                break
            except CheckpointError:
                if attempt == 2 or weights_run_id(checkpoint) in (None, config.get("run_id")):
                    raise
                time.sleep(0.5)
        torch_device = pick_device(device)
        return config, vocab, model.to(torch_device).eval(), torch_device


def model_from_config(task: type[Task], checkpoint: Path, config: dict[str, Any]):
    """The task's network as config.json describes it; bad settings are a CheckpointError."""
    values = config.get("model")
    if not isinstance(values, dict):
        raise CheckpointError(f"{checkpoint / 'config.json'}: has no model settings")
    names = {f.name for f in dataclasses.fields(task.model_config)}
    try:
        return task.model_class(task.model_config(**{k: v for k, v in values.items() if k in names}))
    except (TypeError, ValueError, KeyError, RuntimeError, ConfigError) as exc:
        raise CheckpointError(f"{checkpoint / 'config.json'}: invalid model settings ({exc})") from None


# ---- the driver ------------------------------------------------------------------------------
def train(run: Run) -> Iterator[Any]:
    """Train `run.task` as `run` says; yields the training loop's events (see training.py)."""
    from rnncli.rundir import RunLock, check_directory_for_run, check_no_links, remove_entries, remove_temporaries
    from rnncli.tasks import task_class

    task_type = task_class(run.task)
    out, main = run.out, dist_env().is_main
    if main:
        check_directory_for_run(out, run.resume, run.overwrite)
    created = not out.exists()
    if main:
        out.mkdir(parents=True, exist_ok=True)
        check_no_links(out)
    with (RunLock(out) if main else contextlib.nullcontext()):
        if main:
            remove_temporaries(out)
            if run.overwrite:
                remove_entries(out)
        writer_box: list[CheckpointWriter | None] = []
        try:
            yield from _train_locked(run, task_type, writer_box)
        except BaseException:
            if main and not run.resume and not _saved_anything(writer_box):
                _clean_failed_start(out, created)
            raise


def _train_locked(run: Run, task_type: type[Task], writer_box: list) -> Iterator[Any]:
    out = run.out
    saved = read_config(out, run.task) if run.resume else None
    train_settings, settings = resolve(run, saved)
    if saved is None:
        settings = task_type.fresh_settings(settings, train_settings, run.given)
    check_device(train_settings)
    task = task_type(settings, train_settings, saved)
    sources = {name: (Source(path) if path is not None else None) for name, path in run.files.items()}
    data = {name: fingerprint(source) for name, source in sources.items() if source is not None}
    if saved is not None:
        check_same_data(saved.get("data", {}), data)
    task.read_data(sources)
    yield from notices(task)
    from rnncli.runtime import seed_everything

    seed_everything(train_settings.seed)
    task.vocab = task.load_tokenizers(out, saved) if saved is not None else task.build_tokenizers()
    model = task.build_model()
    yield from notices(task)
    if saved is None:
        train_settings = task.adjust_training(train_settings)
        task.train = train_settings
    job = TrainJob(model=model, loss=task.loss, epoch_batches=task.epoch_batches, evaluate=task.evaluate,
                   metric=task.metric, maximize=task.maximize, unit=task.unit, layers=task.layer_plan(model))
    options = {**train_settings.to_dict(), **settings.to_dict()}
    config = checkpoint_config(task.name, options, model.config.to_dict(), data, task.describe())
    writer = open_checkpoint(out, config, task.save_files, saved)
    writer_box.append(writer)
    for event in run_training(job, train_settings, out, writer, run.resume):
        if isinstance(event, Finished) and writer is not None:
            yield from finish(task, model, writer)
        yield event


def finish(task: Task, model, writer: CheckpointWriter) -> Iterator[Notice]:
    """The post-training hook: load the best weights, let the task add config entries."""
    if type(task).after_training is Task.after_training:
        return   # the task adds nothing: spare reloading the weights
    load_weights(writer.directory, model, writer.config.get("run_id"))
    model.eval()
    entries = task.after_training(model, next(model.parameters()).device)
    if entries:
        writer.config.update(entries)
        write_config(writer.directory, writer.config)
    yield from notices(task)


def _saved_anything(writer_box: list) -> bool:
    return bool(writer_box) and writer_box[0] is not None and writer_box[0].saved_state


def _clean_failed_start(out: Path, created: bool) -> None:
    """A fresh run that failed before its first save: remove what it wrote."""
    from rnncli.rundir import LOCK_FILE, remove_entries

    remove_entries(out)
    if created:
        (out / LOCK_FILE).unlink(missing_ok=True)
        try:
            out.rmdir()
        except OSError:
            pass


def notices(task: Task) -> Iterator[Notice]:
    for text in task.notes:
        yield Notice(text)
    task.notes.clear()


def resolve(run: Run, saved: dict[str, Any] | None) -> tuple[TrainConfig, Settings]:
    """The run's settings. Fresh: as built at the edge. Resume: the saved ones, with only
    the run-control options (RESUME_OVERRIDABLE) taken from what was given now."""
    if saved is None:
        return run.train, run.settings
    stored = saved.get("options", {})
    try:
        train = type(run.train).from_dict(stored)
        settings = type(run.settings).from_dict(stored)
    except ConfigError as exc:
        raise CheckpointError(f"{run.out / 'config.json'}: invalid saved settings ({exc})") from None
    current = {**run.train.to_dict(), **run.settings.to_dict()}
    changed = [name for name in sorted(run.given) if name in current and name not in RESUME_OVERRIDABLE
               and current[name] != {**train.to_dict(), **settings.to_dict()}.get(name)]
    if changed:
        names = ", ".join("--" + k.replace("_", "-") for k in changed)
        allowed = ", ".join("--" + k.replace("_", "-") for k in RESUME_OVERRIDABLE)
        raise ConfigError(f"{names}: cannot change on --resume (the saved run's settings are kept); "
                          f"only {allowed} may change")
    overrides = {k: current[k] for k in RESUME_OVERRIDABLE if k in run.given}
    return dataclasses.replace(train, **overrides), settings


def check_device(train: TrainConfig) -> None:
    """An unavailable --device or --precision fails before any data is read."""
    from rnncli.runtime import autocast_dtype, pick_device

    autocast_dtype(train.precision, pick_device(train.device, dist_env().local_rank))


def check_same_data(saved: dict[str, Any], now: dict[str, Any]) -> None:
    """Resume needs the same data (compared by content, wherever it is now), and every file
    the run was trained with."""
    for name, info in now.items():
        if saved.get(name, {}).get("sha256") != info["sha256"]:
            raise DataError(f"{info['path']}: changed since the run started (sha256 differs); "
                            "--resume needs the same data to continue exactly")
    missing = sorted(set(saved) - set(now))
    if missing:
        option = "--" + missing[0].replace("_", "-")
        raise ConfigError(f"{option}: this run was trained with {saved[missing[0]]['path']}; "
                          f"give it again to resume")


def checkpoint_config(task: str, options: dict[str, Any], model: dict[str, Any], data: dict[str, Any],
                      extra: dict[str, Any]) -> dict[str, Any]:
    """The config.json body: everything needed to rebuild and describe the model."""
    import torch

    return {"task": task, "rnncli_version": __version__, "torch_version": torch.__version__,
            "run_id": uuid.uuid4().hex, "model": model, "options": options, "data": data, **extra}


def open_checkpoint(out: Path, config: dict[str, Any], save_files, saved: dict[str, Any] | None
                    ) -> CheckpointWriter | None:
    """Rank 0: write config.json and tokenizer files (fresh run) and return the writer.
    Other ranks get None: they never write."""
    if not dist_env().is_main:
        return None
    if saved is not None:
        return CheckpointWriter(out, saved, resumed_at=load_trainer_state(out)["loop"]["step"])
    save_files(out)
    write_config(out, config)
    return CheckpointWriter(out, config)


def run_training(job: TrainJob, train_settings: TrainConfig, out: Path, writer: CheckpointWriter | None,
                 resume: bool) -> Iterator[Any]:
    """Run the generic loop with SIGINT/SIGTERM handling; yields its events."""
    from rnncli.signals import StopSignal
    from rnncli.training import train as train_loop

    resume_state = load_trainer_state(out) if resume else None
    with StopSignal() as stop:
        yield from train_loop(job, train_settings, writer, resume_state, stop)


def tokenizer_dir(out: Path, name: str | None = None) -> Path:
    from rnncli.checkpoint import TOKENIZER_DIR

    return out / TOKENIZER_DIR if name is None else out / TOKENIZER_DIR / name
