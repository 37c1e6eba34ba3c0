"""Training configuration: a frozen dataclass, its validation, and option merging.

Precedence, highest first: options given on the command line, a `--config` TOML file,
the task's defaults, the generic defaults below. On `--resume` the saved options come
back, and only run-control options (RESUME_OVERRIDABLE) may be changed.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnncli.errors import ConfigError

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "inverse-sqrt", "constant", "plateau")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
RESUME_OVERRIDABLE = ("epochs", "max_steps", "max_time", "patience", "device", "eval_every")


@dataclass(frozen=True)
class TrainConfig:
    """Everything the generic training loop needs to know; it knows no task."""

    optimizer: str = "adamw"
    lr: float = 2e-3
    weight_decay: float = 0.01
    momentum: float = 0.9            # SGD only
    clip_norm: float = 1.0           # 0 disables clipping
    schedule: str = "cosine"
    warmup: int = 100                # steps
    min_lr_ratio: float = 0.05       # cosine floor as a fraction of lr
    plateau_factor: float = 0.5
    plateau_patience: int = 1
    epochs: int = 10
    max_steps: int | None = None
    max_time: float | None = None    # minutes
    eval_every: int | None = None    # steps; None: at the end of every epoch
    patience: int | None = None      # evaluations without improvement before stopping
    seed: int = 1
    device: str = "auto"
    precision: str = "auto"          # auto: bf16 on CUDA where supported, else fp32
    max_bad_steps: int = 5           # non-finite steps in a row before aborting

    def __post_init__(self) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("device", self.device, DEVICES)
        check_choice("precision", self.precision, PRECISIONS)
        check_positive("lr", self.lr)
        check_positive("epochs", self.epochs)
        for name in ("max_steps", "eval_every", "patience", "max_time"):
            value = getattr(self, name)
            if value is not None:
                check_positive(name, value)
        if self.clip_norm < 0 or self.weight_decay < 0 or self.warmup < 0:
            raise ConfigError("--clip-norm, --weight-decay and --warmup must not be negative")
        check_positive("max_bad_steps", self.max_bad_steps)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"--{name.replace('_', '-')} {value!r} is not one of: {', '.join(choices)}")


def check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value}")


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file of option values; keys as on the command line (dashes or underscores)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML file ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):  # allow [model] / [train] tables
            flat.update({k.replace("-", "_"): v for k, v in value.items()})
        else:
            flat[key.replace("-", "_")] = value
    return flat


def merge_options(given: dict[str, Any], file_values: dict[str, Any],
                  defaults: dict[str, Any]) -> dict[str, Any]:
    """given (None = not given) > config file > defaults. Unknown file keys are an error."""
    unknown = sorted(set(file_values) - set(given) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown option(s) in config file: {', '.join(unknown)}")
    merged = dict(defaults)
    merged.update(file_values)
    merged.update({k: v for k, v in given.items() if v is not None})
    return merged
