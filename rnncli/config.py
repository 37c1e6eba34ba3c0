"""Settings: frozen, typed dataclasses, each default defined once, validated on creation.

A field is declared with `option(default, help, ...)`; a subclass may redeclare a field
with another plain default (a task's own defaults), and keeps the help and checks of the
first declaration. `--help` shows the defaults these classes hold, the Python API takes
the same names, and a `--config` TOML file is checked against the same types.

Problems are reported the same way from every source: `--NAME VALUE what is wrong` for
the command line and the API, `FILE: NAME = VALUE what is wrong` for a config file,
e.g. `--cell 'tree' is not one of: lstm, ...`, `run.toml: epochs = 1.5 is not an integer`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rnncli.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "mps")
CHECKS = {
    "positive": (lambda v: v > 0, "must be positive"),
    "nonneg": (lambda v: v >= 0, "must not be negative"),
    "fraction": (lambda v: 0.0 <= v < 1.0, "must be in [0, 1)"),
    "unit": (lambda v: 0.0 <= v <= 1.0, "must be in [0, 1]"),
    "probability": (lambda v: 0.0 < v <= 1.0, "must be in (0, 1]"),
    "seed": (lambda v: 0 <= v < 2 ** 63, "must be in [0, 2**63)"),
    "vocab": (lambda v: v > 4, "must be above 4 (the special tokens <pad> <unk> <s> </s> come first)"),
    # training derives its generators' seeds from this one by arithmetic (batching, ranks)
    "train_seed": (lambda v: 0 <= v < 2 ** 32, "must be in [0, 2**32)"),
}


def option(default: Any, help: str, *, choices: tuple[str, ...] | None = None, check: str | None = None,
           flag: str | None = None) -> Any:
    """A settings field: its default, the help line, and what a valid value is."""
    return field(default=default, metadata={"help": help, "choices": choices, "check": check, "flag": flag})


@dataclass(frozen=True)
class FieldSpec:
    """Everything known about one setting, gathered over the class hierarchy."""

    name: str
    type: Any
    default: Any
    help: str
    choices: tuple[str, ...] | None
    check: str | None
    flag: str | None

    @property
    def option_name(self) -> str:
        return "--" + self.name.replace("_", "-")


def field_specs(cls: type) -> dict[str, FieldSpec]:
    """name -> FieldSpec; help and checks from the first declaration, the default from the last."""
    hints = typing.get_type_hints(cls)
    specs: dict[str, FieldSpec] = {}
    for f in dataclasses.fields(cls):
        meta: Mapping[str, Any] = {}
        for klass in reversed(cls.__mro__):
            declared = getattr(klass, "__dataclass_fields__", {}).get(f.name)
            if declared is not None and declared.metadata:
                meta = declared.metadata
                break
        specs[f.name] = FieldSpec(f.name, hints[f.name], f.default, meta.get("help", ""),
                                  meta.get("choices"), meta.get("check"), meta.get("flag"))
    return specs


def base_type(annotation: Any) -> tuple[Any, bool]:
    """(the type inside Optional[...], whether None is allowed)."""
    args = typing.get_args(annotation)
    if type(None) in args:
        inner = [a for a in args if a is not type(None)]
        return inner[0], True
    return annotation, False


def type_name(annotation: Any) -> str:
    inner, optional = base_type(annotation)
    if typing.get_origin(inner) is tuple:
        name = f"a list of {type_name(typing.get_args(inner)[0])}s"
    else:
        name = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(inner, str(inner))
    return name


def numeric_text(text: str, kind: Any) -> Any:
    """A list element typed on the command line: "0.1" -> 0.1 for a list of numbers (what
    cannot be parsed stays text, and the element check names it)."""
    try:
        return {int: int, float: float}[kind](text) if kind in (int, float) else text
    except ValueError:
        return text


def coerce(spec: FieldSpec, value: Any) -> tuple[Any, str | None]:
    """(the value in the field's type, or a problem). Exact types: 1.5 is not an integer,
    "3" is not a number, 1 is not a boolean; an integer is a fine float."""
    inner, optional = base_type(spec.type)
    if value is None:
        return None, (None if optional else f"is not {type_name(spec.type)}")
    if typing.get_origin(inner) is tuple:
        if isinstance(value, str):   # the command line's "a,b,c"; numbers are parsed here
            value = [numeric_text(part.strip(), typing.get_args(inner)[0])
                     for part in value.split(",") if part.strip()]
        if not isinstance(value, (list, tuple)):
            return value, f"is not {type_name(spec.type)}"
        element = FieldSpec(spec.name, typing.get_args(inner)[0], None, "", spec.choices, spec.check, None)
        items = []
        for item in value:
            item, problem = coerce(element, item)
            if problem:
                return value, problem
            items.append(item)
        return tuple(items), None
    ok = {bool: lambda v: isinstance(v, bool),
          int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str)}[inner](value)
    if not ok:
        return value, f"is not {type_name(spec.type)}"
    if inner is float:
        value = float(value)
        if not math.isfinite(value):
            return value, "must be a finite number"
    if spec.choices is not None and value not in spec.choices:
        return value, f"is not one of: {', '.join(spec.choices)}"
    if spec.check is not None:
        test, text = CHECKS[spec.check]
        if not test(value):
            return value, text
    return value, None


@dataclass(frozen=True)
class Settings:
    """Base of every settings class: validates (and normalises) each field on creation."""

    def __post_init__(self) -> None:
        for name, spec in field_specs(type(self)).items():
            value, problem = coerce(spec, getattr(self, name))
            if problem:
                raise ConfigError(f"{spec.option_name} {getattr(self, name)!r} {problem}")
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]):
        """From a saved dict: keys this class does not know (other sections) are left out."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))


# ---- the settings every task shares ------------------------------------------------------
@dataclass(frozen=True)
class TrainConfig(Settings):
    """Everything the generic training loop needs to know; it knows no task."""

    batch_size: int = option(32, "Sequences per batch.", check="positive")
    optimizer: str = option("adamw", "Optimizer.", choices=("adamw", "sgd"))
    lr: float = option(2e-3, "Peak learning rate.", check="positive")
    weight_decay: float = option(0.01, "Decoupled weight decay (AdamW).", check="nonneg")
    momentum: float = option(0.9, "SGD momentum.", check="nonneg")
    clip_norm: float = option(1.0, "Clip the gradient norm to this (0: off).", check="nonneg")
    schedule: str = option("cosine", "Learning-rate schedule after warmup.",
                           choices=("cosine", "inverse-sqrt", "constant", "plateau"))
    warmup: int = option(100, "Warmup steps.", check="nonneg")
    min_lr_ratio: float = option(0.05, "Cosine floor, as a fraction of --lr.", check="unit")
    plateau_factor: float = option(0.5, "Plateau schedule: multiply the rate by this.", check="probability")
    plateau_patience: int = option(1, "Plateau schedule: evaluations without improvement first.", check="nonneg")
    epochs: int = option(10, "Passes over the training data.", check="positive")
    max_steps: int | None = option(None, "Stop after this many steps.", check="positive")
    max_time: float | None = option(None, "Stop after this many minutes, keeping the best checkpoint.",
                                    check="positive")
    eval_every: int | None = option(None, "Evaluate every N steps (default: each epoch).", check="positive")
    patience: int | None = option(5, "Stop after N evaluations in a row without improvement on the "
                                     "validation metric (0: never; see --eval-every).", check="nonneg")
    log_every: int = option(50, "Record the training loss, learning rate and throughput in metrics.jsonl "
                                "every N steps (0: off).", check="nonneg")
    seed: int = option(1, "Random seed (same seed, same run).", check="train_seed")
    device: str = option("auto", "Device (auto: cuda, then mps, then cpu).", choices=DEVICES)
    precision: str = option("auto", "Mixed precision on CUDA (auto: bf16 there, fp32 elsewhere).",
                            choices=("auto", "fp32", "bf16", "fp16"))
    max_bad_steps: int = option(5, "Abort after N non-finite steps in a row.", check="positive")


# Only these may change when a run is resumed: they steer how long and where it runs.
RESUME_OVERRIDABLE = ("epochs", "max_steps", "max_time", "patience", "device", "eval_every", "log_every")


@dataclass(frozen=True)
class ModelSettings(Settings):
    """The recurrent network options every task shares."""

    cell: str = option("lstm", "Recurrent cell.", choices=("lstm", "gru", "rnn-tanh", "rnn-relu"))
    layers: int = option(1, "Recurrent layers.", check="positive")
    hidden: int = option(256, "Hidden units per layer and direction.", check="positive")
    embed: int = option(128, "Embedding size.", check="positive")
    dropout: float = option(0.1, "Dropout on embeddings, between layers and before the output.",
                            check="fraction")
    bidirectional: bool = option(False, "Bidirectional encoder (where the task allows).",
                                 flag="--bidirectional/--no-bidirectional")
    layer_norm: bool = option(False, "LayerNorm after each recurrent layer.", flag="--layer-norm/--no-layer-norm")


@dataclass(frozen=True)
class TextModelSettings(ModelSettings):
    """Options of the tasks that read text through a tokenizer."""

    tokenizer: str = option("char", "Tokenizer.", choices=("char", "word", "unigram", "bpe"))
    vocab_size: int | None = option(None, "Vocabulary size (sentencepiece target, or a cap for char/word).",
                                    check="vocab")
    tie_embeddings: bool = option(False, "Share input embedding and output weights.",
                                  flag="--tie-embeddings/--no-tie-embeddings")


# ---- inference settings ------------------------------------------------------------------
@dataclass(frozen=True)
class DecodeSettings(Settings):
    """Encoder-decoder search: the one place its defaults live."""

    beam: int = option(5, "Beam size (1: greedy).", check="positive")
    n_best: int = option(1, "Hypotheses per sentence (needs --output-format jsonl).", check="positive")
    length_penalty: float = option(0.6, "GNMT length penalty alpha (0: none).", check="nonneg")
    max_ratio: float = option(2.0, "Output length limit: this many target pieces per source piece ...",
                              check="positive")
    max_extra: int = option(10, "... plus this many.", check="nonneg")
    beam_stop: str = option("best", "When a sentence's search ends: best (once its best-ranked "
                                    "hypotheses have ended, as OpenNMT-py and Marian stop) or exact "
                                    "(once no live hypothesis can still reach its n-best list: the "
                                    "exhaustive result, slower with a length penalty).",
                            choices=("best", "exact"))
    max_input_tokens: int | None = option(None, "Longer input lines are translated in pieces of this many "
                                                "tokens (default: twice the training --max-len).", check="positive")
    batch_size: int = option(64, "Sentences per batch.", check="positive")
    int8: bool = option(False, "Int8 output, combine and decoder-LSTM weights (CPU), at a small cost in "
                               "BLEU: faster beam search, by how much depends on the CPU (1.0-1.6x the "
                               "fp32 default measured; see the README's benchmarks).")
    shortlist: bool = option(False, "Score only a shortlist of likely target pieces per batch (saved "
                                    "at training): faster CPU beam search at a small cost in BLEU.")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_best > self.beam:
            raise ConfigError(f"--n-best {self.n_best} cannot exceed --beam {self.beam}")


@dataclass(frozen=True)
class GenerateSettings(Settings):
    """Sampling from a language model."""

    max_tokens: int = option(200, "Tokens to generate per sample.", check="positive")
    temperature: float = option(0.8, "Sampling temperature (0: greedy).", check="nonneg")
    top_k: int = option(0, "Sample from the k most likely tokens (0: all).", check="nonneg")
    top_p: float = option(1.0, "Nucleus sampling mass (1: off).", check="probability")
    num_samples: int = option(1, "Samples per prompt.", check="positive")
    batch_size: int = option(64, "Prompts sampled together (with --prompt -).", check="positive")
    seed: int | None = option(None, "Random seed: the same seed gives the same text (default: a fresh one).",
                              check="seed")


# ---- building settings from the command line, a config file or the API -------------------
def read_config_file(path: str | Path) -> dict[str, Any]:
    """A TOML file of option values, keys as on the command line (dashes or underscores),
    optionally grouped in tables ([model], [training]; the table names themselves are free) -> a flat dict."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a TOML file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML file ({exc})") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for name, item in items:
            flat[name.replace("-", "_")] = item
    return flat


def check_known(values: Mapping[str, Any], known: set[str], where: str) -> None:
    """Unknown names are an error, with the nearest known one suggested."""
    for name in values:
        if name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ConfigError(f"{where}unknown option {name!r}{hint}")


def build(cls: type, values: Mapping[str, Any]):
    """An instance of a settings class from keyword values (an unknown name is an error)."""
    check_known(values, set(field_specs(cls)), "")
    return cls(**values)
