"""The one save/load path for checkpoint directories (DESIGN §4).

    DIR/config.json         task, versions, model/tokenizer/label settings, options, data fingerprints
    DIR/model.safetensors   weights of the best model by validation
    DIR/tokenizer/          tokenizer files (see tokenizer.py)
    DIR/trainer_state.pt    latest weights, optimizer, schedule, RNG, step, data position
    DIR/metrics.jsonl       one record per evaluation ("kind": "eval") and one per --log-every
                            steps of training ("kind": "train": mean loss, lr, throughput)

Every file is written atomically. trainer_state.pt carries the latest weights itself, so
the weights and the optimizer state it resumes from can never come from different saves.
Loading never unpickles code: safetensors for weights, JSON for settings, and
torch.load(weights_only=True) for the trainer state. Any damage is one CheckpointError line.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from pathlib import Path
from typing import Any

from rnncli.atomic import atomic_path, atomic_write_bytes, atomic_write_text
from rnncli.errors import CheckpointError

FORMAT = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "trainer_state.pt"
METRICS_FILE = "metrics.jsonl"
TOKENIZER_DIR = "tokenizer"
RUN_KEY = "rnncli_run_id"


def fingerprint(source) -> dict[str, Any]:
    """Path, size and sha256 of a data file (a readers.text.Source: the bytes training reads,
    read once), recorded so a model says what it was trained on."""
    from rnncli.readers.text import STDIN, Source

    if not isinstance(source, Source):
        source = Source(source)
    path = str(source.path) if str(source.path) == STDIN else str(Path(source.path).resolve())
    return {"path": path, "size": len(source.data), "sha256": hashlib.sha256(source.data).hexdigest()}


def check_directory(directory: str | Path) -> Path:
    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no such checkpoint directory")
    if not (directory / CONFIG_FILE).is_file():
        raise CheckpointError(f"{directory}: not a checkpoint (no {CONFIG_FILE})")
    return directory


def write_config(directory: str | Path, config: dict[str, Any]) -> None:
    config = {"format": FORMAT, **config}
    atomic_write_text(Path(directory) / CONFIG_FILE, json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def read_config(directory: str | Path, task: str | None = None) -> dict[str, Any]:
    """config.json of a checkpoint; with `task`, also check the checkpoint is for that task."""
    path = check_directory(directory) / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: corrupt JSON ({type(exc).__name__})") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(config, dict) or not isinstance(config.get("task"), str):
        raise CheckpointError(f"{path}: not an rnncli checkpoint config (no 'task')")
    version = config.get("format", FORMAT)
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{path}: 'format' is {version!r}, expected an integer")
    if version > FORMAT:
        raise CheckpointError(f"{path}: written by a newer rnncli (format {version}); upgrade rnncli")
    if task is not None and config["task"] != task:
        raise CheckpointError(f"{directory}: is a {config['task']!r} checkpoint, this command needs a {task!r} one")
    return config


def save_weights(directory: str | Path, model, run_id: str | None = None) -> None:
    """model.safetensors, written atomically; tied weights are stored once; `run_id` (the
    training run's, also in config.json) lets a reader check the two belong together."""
    from safetensors.torch import save_file

    tensors, aliases = portable_tensors(unwrap(model))
    metadata = {**aliases, **({RUN_KEY: run_id} if run_id else {})}
    with atomic_path(Path(directory) / WEIGHTS_FILE) as tmp:
        save_file(tensors, str(tmp), metadata=metadata or None)


def portable_tensors(model) -> tuple[dict[str, Any], dict[str, str]]:
    """The weights as CPU tensors that own their memory, and the names of tied copies.

    On CUDA, cuDNN keeps all of an RNN's weights as views into one flat buffer, and
    safetensors refuses to save a view that does not cover its whole buffer; copying each
    tensor out fixes that. A tensor held under two names (tied embeddings) is stored once,
    under its first name; the second is recorded in the metadata as an alias of it, as
    safetensors' own save_model does, so its load_model restores the tie.
    """
    tensors: dict[str, Any] = {}
    aliases: dict[str, str] = {}
    first_name: dict[tuple, str] = {}
    for name, tensor in model.state_dict().items():
        key = (tensor.device, tensor.data_ptr(), tensor.dtype, tuple(tensor.shape), tensor.stride())
        if tensor.numel() and key in first_name:
            aliases[name] = first_name[key]
            continue
        first_name[key] = name
        tensors[name] = tensor.detach().to("cpu", copy=True).contiguous()
    return tensors, aliases


def weights_run_id(directory: str | Path) -> str | None:
    """The run id model.safetensors was written by (None for older files or damage)."""
    from safetensors import safe_open

    try:
        with safe_open(str(Path(directory) / WEIGHTS_FILE), framework="pt") as handle:
            return (handle.metadata() or {}).get(RUN_KEY)
    except Exception:  # damage is reported by load_weights itself
        return None


def load_weights(directory: str | Path, model, run_id: str | None = None) -> None:
    """Fill `model` from model.safetensors; shape or key mismatches are a CheckpointError.
    With `run_id` (config.json's), weights written by another run are refused too."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file is missing (was training stopped before the first evaluation?)")
    try:
        open(path, "rb").close()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror})") from None
    if run_id is not None and weights_run_id(directory) not in (None, run_id):
        raise CheckpointError(f"{path}: written by another training run than {CONFIG_FILE} (the checkpoint is "
                              "being replaced right now?); try again when that run has saved")
    try:
        # Not safetensors' load_model: it refuses a target whose tensors are views of one
        # buffer, as a CUDA model's RNN weights are (cuDNN's flat weights). Tied copies were
        # stored once; the metadata names each alias's original (see portable_tensors).
        tensors = load_file(str(path), device="cpu")
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        for alias, original in metadata.items():
            if alias != RUN_KEY and original in tensors and alias not in tensors:
                tensors[alias] = tensors[original]
        unwrap(model).load_state_dict(tensors, strict=True)
    except (SafetensorError, RuntimeError, OSError, ValueError) as exc:
        # load_state_dict's message is a header line, then one line per problem: keep the first problem
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        lines = [line for line in lines if not line.startswith("Error(s) in loading state_dict")] or lines
        reason = lines[0].rstrip(".") if lines else type(exc).__name__
        raise CheckpointError(f"{path}: corrupt or incompatible weights ({reason})") from None


def save_trainer_state(directory: str | Path, state: dict[str, Any]) -> None:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(Path(directory) / STATE_FILE, buffer.getvalue())


def load_trainer_state(directory: str | Path) -> dict[str, Any]:
    """trainer_state.pt with weights_only=True: a pickle that names code is refused, not run."""
    import pickle
    import warnings

    import torch

    path = Path(directory) / STATE_FILE
    if not path.is_file():
        raise CheckpointError(f"{path}: no trainer state to resume from")
    try:
        with warnings.catch_warnings():  # torch warns about foreign pickle protocols; we refuse them anyway
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsafe content"
        raise CheckpointError(f"{path}: refused to load: not plain tensors and values ({first})") from None
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated trainer state ({type(exc).__name__})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an rnncli trainer state")
    return state


def read_metrics(directory: str | Path, kind: str | None = "eval") -> list[dict[str, Any]]:
    """Records of metrics.jsonl of one kind: "eval" (evaluations; also records without a
    "kind", written before training records existed), "train", or None for all, in file
    order. A damaged line (say, a crash mid-append) is skipped."""
    path = Path(directory) / METRICS_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict) and kind in (None, record.get("kind", "eval")):
            records.append(record)
    return records


def write_metrics(directory: str | Path, records: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    atomic_write_text(Path(directory) / METRICS_FILE, text)


def unwrap(model):
    """The plain module inside a DistributedDataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


class CheckpointWriter:
    """What the training loop calls to save; it owns config.json's `progress` section.

    Resumed at step S, it drops the records (evaluation and training ones) after S: a run
    killed between logging and saving its state repeats those steps when resumed, and
    their records must not appear twice. Training records are written with the next save
    of the state, an evaluation, or after FLUSH_SECONDS, whichever comes first: rewriting
    the file every few steps would cost a fast GPU run time, and records beyond the saved
    state are repeated on resume anyway."""

    FLUSH_SECONDS = 30.0

    def __init__(self, directory: str | Path, config: dict[str, Any], resumed_at: int | None = None):
        self.directory = Path(directory)
        self.config = config
        self.records = read_metrics(self.directory, kind=None)
        self.saved_state = False
        self.pending = False
        self.written_at = time.monotonic()
        if resumed_at is not None:
            kept = [r for r in self.records if isinstance(r.get("step"), int) and r["step"] <= resumed_at]
            if len(kept) != len(self.records):
                self.records = kept
                write_metrics(self.directory, kept)

    def save_best(self, model, step: int, metric: str, value: float) -> None:
        save_weights(self.directory, model, self.config.get("run_id"))
        self.config["progress"] = {**self.config.get("progress", {}),
                                   "best": {"metric": metric, "value": value, "step": step}}
        write_config(self.directory, self.config)

    def save_state(self, state: dict[str, Any], steps: int) -> None:
        save_trainer_state(self.directory, {"format": FORMAT, **state})
        self.config["progress"] = {**self.config.get("progress", {}), "steps": steps}
        write_config(self.directory, self.config)
        self.saved_state = True
        if self.pending:
            self.flush()

    def log(self, record: dict[str, Any], defer: bool = False) -> None:
        """Append a record; with `defer`, the file is rewritten later (see the class)."""
        self.records.append(record)
        self.pending = True
        if not defer or time.monotonic() - self.written_at >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        write_metrics(self.directory, self.records)
        self.pending = False
        self.written_at = time.monotonic()
