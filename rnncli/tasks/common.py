"""What every task's training shares: option resolution, the checkpoint directory, resume,
and running the generic loop under signal handling.

A task's `train_*` function calls, in order:
    options = resolve_options(given, TASK_DEFAULTS, out, resume)
    seed_everything(options["seed"])             # before building tokenizer/model
    ...build tokenizer, data, model...
    writer = open_checkpoint(out, config_dict, save_files, resume)   # rank 0 writes
    yield from run_training(job, options, out, writer, resume)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

from rnncli import __version__
from rnncli.checkpoint import (CONFIG_FILE, STATE_FILE, TOKENIZER_DIR, CheckpointWriter, load_trainer_state,
                               read_config, write_config)
from rnncli.config import RESUME_OVERRIDABLE, TrainConfig, merge_options, read_config_file
from rnncli.errors import ConfigError, DataError
from rnncli.runtime import dist_env

# Model/tokenizer defaults shared by all tasks; each task overrides what differs.
MODEL_DEFAULTS: dict[str, Any] = {
    "cell": "lstm", "layers": 1, "hidden": 256, "embed": 128, "dropout": 0.1,
    "bidirectional": False, "layer_norm": False, "tie_embeddings": False,
    "tokenizer": "char", "vocab_size": None, "batch_size": 32,
}
META_OPTIONS = ("resume", "config", "quiet", "json")


def resolve_options(given: dict[str, Any], task_defaults: dict[str, Any], out: Path,
                    resume: bool) -> dict[str, Any]:
    """The run's options. Fresh: command line > --config > task defaults > generic defaults.
    Resume: the saved options, with only run-control options (epochs, max steps/time,
    patience, device, eval interval) taken from the command line."""
    config_path = given.get("config")
    given = {k: v for k, v in given.items() if k not in META_OPTIONS}
    if resume:
        saved = read_config(out)["options"]
        changed = [k for k, v in given.items()
                   if v is not None and k not in RESUME_OVERRIDABLE and saved.get(k) != v]
        if changed:
            names = ", ".join("--" + k.replace("_", "-") for k in changed)
            raise ConfigError(f"{names}: cannot change on --resume (the saved run's settings are kept); "
                              f"only {', '.join('--' + k.replace('_', '-') for k in RESUME_OVERRIDABLE)} may change")
        options = {**saved, **{k: v for k, v in given.items() if v is not None}}
        check_device(options)
        return options
    file_values = read_config_file(config_path) if config_path else {}
    defaults = {**TrainConfig().to_dict(), **MODEL_DEFAULTS, **task_defaults}
    options = merge_options(given, file_values, defaults)
    TrainConfig.from_dict(options)  # validate early, before any data is read
    check_model_options(options)
    return options


def check_same_data(saved: dict[str, Any], now: dict[str, Any]) -> None:
    for name, info in now.items():
        before = saved.get(name, {})
        if before.get("sha256") != info["sha256"]:
            raise DataError(f"{info['path']}: changed since the run started (sha256 differs); "
                            "--resume needs the same data to continue exactly")


def check_model_options(options: dict[str, Any]) -> None:
    """Reject impossible model settings before any data is read or file written."""
    from rnncli.config import check_choice, check_positive
    from rnncli.core.rnn import CELLS
    from rnncli.tokenizer import KINDS

    check_choice("cell", options["cell"], CELLS)
    check_choice("tokenizer", options["tokenizer"], KINDS)
    for name in ("layers", "hidden", "embed", "batch_size"):
        check_positive(name, options[name])
    if options.get("vocab_size") is not None:
        check_positive("vocab_size", options["vocab_size"])
    if not 0.0 <= options["dropout"] < 1.0:
        raise ConfigError(f"--dropout must be in [0, 1), got {options['dropout']}")
    check_device(options)


def check_device(options: dict[str, Any]) -> None:
    from rnncli.runtime import autocast_dtype, pick_device

    autocast_dtype(options["precision"], pick_device(options["device"], dist_env().local_rank))


def check_out_dir(out: Path, resume: bool) -> None:
    """Never overwrite a checkpoint by accident; --resume needs one. A directory whose run
    never saved a training state (it failed before its first step) may be reused."""
    has_checkpoint = (out / CONFIG_FILE).is_file() and (out / STATE_FILE).is_file()
    if resume and not has_checkpoint:
        raise ConfigError(f"{out}: nothing to resume (no checkpoint there)")
    if not resume and has_checkpoint:
        raise ConfigError(f"{out}: already holds a checkpoint; use --resume to continue it, "
                          "or choose another --out")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory")


def checkpoint_config(task: str, options: dict[str, Any], model: dict[str, Any],
                      data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The config.json body: everything needed to rebuild and describe the model."""
    import torch

    return {"task": task, "rnncli_version": __version__, "torch_version": torch.__version__,
            "model": model, "options": options, "data": data, **extra}


def open_checkpoint(out: Path, config: dict[str, Any], save_files: Callable[[Path], None],
                    resume: bool) -> CheckpointWriter | None:
    """Rank 0: write config.json and tokenizer files (fresh run) and return the writer.
    Other ranks get None: they never write."""
    if not dist_env().is_main:
        return None
    if resume:
        return CheckpointWriter(out, read_config(out))
    out.mkdir(parents=True, exist_ok=True)
    save_files(out)
    write_config(out, config)
    return CheckpointWriter(out, config)


def tokenizer_dir(out: Path, name: str | None = None) -> Path:
    return out / TOKENIZER_DIR if name is None else out / TOKENIZER_DIR / name


def run_training(job, options: dict[str, Any], out: Path, writer: CheckpointWriter | None,
                 resume: bool) -> Iterator[Any]:
    """Run the generic loop with SIGINT/SIGTERM handling; yields its events."""
    from rnncli.signals import StopSignal
    from rnncli.training import train

    config = TrainConfig.from_dict(options)
    resume_state = load_trainer_state(out) if resume else None
    with StopSignal() as stop:
        yield from train(job, config, writer, resume_state, stop)
