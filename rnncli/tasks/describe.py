"""What `rnncli info` reports: what a checkpoint is, how it was trained, on what data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnncli.checkpoint import WEIGHTS_FILE, read_config
from rnncli.config import field_specs
from rnncli.errors import CheckpointError
from rnncli.tasks import TASKS
from rnncli.version import __version__


def describe(checkpoint: Path) -> dict[str, Any]:
    import torch

    config = read_config(checkpoint)
    if config["task"] not in TASKS:
        raise CheckpointError(f"{checkpoint}: a checkpoint of unknown task {config['task']!r} "
                              f"(this rnncli knows: {', '.join(TASKS)}); is it from a newer rnncli?")
    progress = config.get("progress", {})
    return {
        "path": str(checkpoint), "task": config["task"], "model": config.get("model", {}),
        "parameters": count_parameters(checkpoint), "tokenizer": config.get("tokenizer", config.get("tokenizers", {})),
        "labels": config.get("labels"), "series": config.get("series"), "data": config.get("data", {}),
        "steps": progress.get("steps", 0), "best": progress.get("best"),
        "settings": trained_settings(config),
        "trained_with": {"rnncli": config.get("rnncli_version"), "torch": config.get("torch_version")},
        "running": {"rnncli": __version__, "torch": torch.__version__},
    }


def trained_settings(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The options the run was trained with, as the training loop's and the task's."""
    spec = TASKS[config["task"]]
    options = config.get("options", {})
    training, task = set(field_specs(spec.training)), set(field_specs(spec.settings))
    return {"training": {k: v for k, v in options.items() if k in training},
            "task": {k: v for k, v in options.items() if k in task}}


def count_parameters(checkpoint: Path) -> int | None:
    """Parameters stored in model.safetensors (read from its header, no weights loaded)."""
    from safetensors import safe_open

    path = Path(checkpoint) / WEIGHTS_FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            total = 0
            for key in handle.keys():
                count = 1
                for dim in handle.get_slice(key).get_shape():
                    count *= dim
                total += count
            return total
    except Exception as exc:  # safetensors raises several types for a damaged header
        raise CheckpointError(f"{path}: corrupt weights file ({type(exc).__name__})") from None
