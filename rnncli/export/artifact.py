"""An export artifact on disk: building it atomically, its manifest, and reading it back.

    OUT/
      manifest.json              task, format, inputs, outputs, versions, checkpoint sha256,
                                 labels, preprocessing, decoding defaults, parity figures
      model.pt | *.onnx          the model (graphs.py); crf.json for an ONNX tagger
      tokenizer/                 the checkpoint's tokenizer files as they are
      runner.py                  the standalone runner (numpy + torch or onnxruntime)
      rnncli_runner_text.py      its tokenizers and batching
      checkpoint_config.json     the checkpoint's config.json (for `rnncli eval OUT`)

The artifact is written into a temporary directory beside OUT, checked there, and renamed
onto OUT only when the check passed, so OUT is either absent, the old one, or complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rnncli.errors import CheckpointError, UsageError

MANIFEST = "manifest.json"
KIND = "rnncli-export"
FORMATS = ("torchscript", "onnx")
TASKS = ("classify", "tag", "translate", "lm")
RUNNER = Path(__file__).with_name("runner.py")
RUNNER_TEXT = Path(__file__).with_name("runner_text.py")   # shipped as rnncli_runner_text.py


def is_artifact(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(path: str | Path) -> dict[str, Any]:
    file = Path(path) / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{file}: unreadable export manifest ({type(exc).__name__})") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != KIND:
        raise CheckpointError(f"{file}: not an rnncli export manifest")
    return manifest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def preprocess(task: str, config: dict[str, Any]) -> dict[str, Any]:
    """What the runner needs to turn text into the model's inputs as rnncli does."""
    options = config["options"]
    if task == "classify":
        return {"max_length": int(options["max_length"])}
    if task == "tag":
        from rnncli.tasks.tag_data import MAX_WORD_CHARS

        return {"lowercase": bool(options["lowercase"]), "max_word_chars": MAX_WORD_CHARS,
                "digits_to_zero": True, "crf": bool(config["model"].get("crf", True))}
    if task == "translate":
        return {"source_suffix": "</s>", "max_len": int(options["max_len"])}
    if task == "forecast":
        return {"window": "the last `context` values; calendar and season features from the timestamps"}
    return {"empty_prompt": "<s>"}


def manifest_body(task: str, fmt: str, checkpoint: Path, config: dict[str, Any], model, files: dict[str, Any],
                  versions: dict[str, str]) -> dict[str, Any]:
    import torch

    from rnncli.config import DecodeSettings, GenerateSettings
    from rnncli.version import __version__

    body: dict[str, Any] = {
        "kind": KIND, "version": 1, "task": task, "format": fmt, **files,
        "versions": {"rnncli": __version__, "torch": torch.__version__, **versions},
        "checkpoint": {"path": str(checkpoint), "run_id": config.get("run_id"),
                       "sha256": {name: sha256_file(checkpoint / name) for name in ("model.safetensors", "config.json")}},
        "tokenizer": config.get("tokenizer") or config.get("tokenizers"), "preprocess": preprocess(task, config),
        "model": config["model"], "runner": "runner.py"}
    if task == "classify":
        body["labels"] = list(config["labels"])
    elif task == "tag":
        body["labels"], body["scheme"] = list(model.config.labels), config["scheme"]
        body["inner_scheme"] = model.config.scheme
    elif task == "translate":
        body["cell"] = model.config.cell
        d = DecodeSettings()
        body["decoding"] = {k: getattr(d, k) for k in ("beam", "length_penalty", "max_ratio", "max_extra", "beam_stop",
                                                       "batch_size")}
    elif task == "lm":
        body["cell"], body["state_shape"] = model.config.cell, [model.config.layers, model.config.hidden]
        g = GenerateSettings()
        body["sampling"] = {k: getattr(g, k) for k in ("max_tokens", "temperature", "top_k", "top_p")}
    return body


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    from rnncli.atomic import atomic_write_text

    atomic_write_text(directory / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")


def check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not overwrite:
        raise UsageError(f"{out}: already exists; choose another -o or add --overwrite")
    if out.exists() and not is_artifact(out):
        raise UsageError(f"{out}: exists and is not an export artifact; --overwrite replaces only those")
    if out.parent.exists() and not out.parent.is_dir():
        raise UsageError(f"-o {out}: {out.parent} is not a directory")


def temporary_directory(out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)   # `-o exported/ner` makes exported/, as `train --out` does
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".export-tmp", dir=out.parent))


def fill_directory(directory: Path, checkpoint: Path) -> None:
    """Tokenizer files, the runner and the checkpoint's config, beside the model file(s)."""
    shutil.copytree(checkpoint / "tokenizer", directory / "tokenizer")
    shutil.copyfile(RUNNER, directory / "runner.py")
    shutil.copyfile(RUNNER_TEXT, directory / "rnncli_runner_text.py")
    shutil.copyfile(checkpoint / "config.json", directory / "checkpoint_config.json")


def publish(tmp: Path, out: Path) -> None:
    """Rename the finished artifact onto OUT; an old artifact there goes only after."""
    from rnncli.atomic import fsync_directory

    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
    os.replace(tmp, out)
    fsync_directory(out.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def describe_artifact(path: str | Path) -> dict[str, Any]:
    """What `rnncli info OUT` shows for an artifact."""
    manifest = read_manifest(path)
    keys = ("task", "format", "files", "inputs", "outputs", "versions", "checkpoint", "tokenizer", "preprocess",
            "labels", "scheme", "decoding", "sampling", "series", "parity")
    size = sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
    return {"path": str(path), "artifact": True, **{k: manifest[k] for k in keys if k in manifest}, "bytes": size}
