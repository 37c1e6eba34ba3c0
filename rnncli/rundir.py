"""The output directory of a training run: what may be written there, by whom, and what a
run that fails before its first save leaves behind (nothing).

- A fresh run needs a directory that is missing, empty, or an rnncli checkpoint that holds
  no trained state (a run that stopped before its first save). A finished checkpoint is
  replaced only with `--overwrite` (or continued with `--resume`); a directory that holds
  anything else is never written into: those are the user's files.
- rnncli never writes through a symbolic link inside the directory (a `tokenizer` link
  would send files elsewhere).
- One run at a time: an exclusive lock (flock on `.lock`, released by the kernel however
  the process ends) names its holder; a second run exits 2 naming that PID and host.
- Temporary files a killed run left behind (atomic writes in progress) are removed when
  the next run takes the lock: nobody else can be writing them then.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

from rnncli.errors import CheckpointError, ConfigError

LOCK_FILE = ".lock"
# Everything a checkpoint directory may hold; what --overwrite removes and a failed start cleans.
CHECKPOINT_ENTRIES = ("config.json", "model.safetensors", "trainer_state.pt", "metrics.jsonl", "tokenizer",
                      "shortlist.safetensors")


def checkpoint_config(directory: Path) -> dict | None:
    """The directory's config.json if it is an rnncli one, else None."""
    path = directory / "config.json"
    if not path.is_file() or path.is_symlink():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return config if isinstance(config, dict) and "task" in config and "format" in config else None


def has_trained_state(directory: Path, config: dict) -> bool:
    return ((directory / "trainer_state.pt").exists() or (directory / "model.safetensors").exists()
            or bool(config.get("progress", {}).get("steps")))


def foreign_entries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in CHECKPOINT_ENTRIES + (LOCK_FILE,)
                  and not is_temporary(p.name))


def is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".tmp")


def check_directory_for_run(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse a directory this run may not write into (see the module docstring)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: exists and is not a directory")
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite contradict each other: choose one")
    if not out.exists():
        if resume:
            raise ConfigError(f"{out}: nothing to resume (no checkpoint there)")
        return
    config = checkpoint_config(out)
    if resume:
        if config is None or not (out / "trainer_state.pt").is_file():
            raise ConfigError(f"{out}: nothing to resume (no checkpoint there)")
        return
    if config is None:
        entries = [p.name for p in out.iterdir() if p.name != LOCK_FILE]
        if entries:
            raise ConfigError(f"{out}: is not empty and not an rnncli checkpoint (it holds {entries[0]!r}); "
                              "choose an empty or new --out")
        return
    others = foreign_entries(out)
    if others:
        raise ConfigError(f"{out}: holds files that are not rnncli's ({others[0]!r}); choose another --out")
    if has_trained_state(out, config) and not overwrite:
        raise ConfigError(f"{out}: already holds a checkpoint; use --resume to continue it, "
                          "--overwrite to replace it, or choose another --out")


def check_no_links(out: Path) -> None:
    """No symbolic link among the checkpoint's entries, at any depth."""
    for name in CHECKPOINT_ENTRIES:
        path = out / name
        if path.is_symlink():
            raise ConfigError(f"{path}: is a symbolic link; rnncli does not write through links "
                              "in a checkpoint directory")
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                for entry in dirs + files:
                    if os.path.islink(os.path.join(root, entry)):
                        raise ConfigError(f"{os.path.join(root, entry)}: is a symbolic link; rnncli does "
                                          "not write through links in a checkpoint directory")


def remove_entries(out: Path) -> None:
    """Remove a checkpoint's own files (never anything else)."""
    for name in CHECKPOINT_ENTRIES:
        path = out / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def remove_temporaries(out: Path) -> int:
    """Temporary files of atomic writes a killed run left behind -> how many were removed."""
    removed = 0
    for root, _, files in os.walk(out):
        for name in files:
            if is_temporary(name):
                os.unlink(os.path.join(root, name))
                removed += 1
    return removed


class RunLock:
    """An exclusive lock on the directory for the length of a run (a context manager)."""

    def __init__(self, out: Path):
        self.path = out / LOCK_FILE
        self.handle = None

    def __enter__(self) -> "RunLock":
        import fcntl

        self.handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "another process"
            self.handle.close()
            raise CheckpointError(f"{self.path.parent}: another training run is writing here ({holder}); "
                                  "wait for it to finish or choose another --out") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
        self.handle.flush()
        return self

    def __exit__(self, *exc) -> None:
        import fcntl

        if self.handle is not None:
            self.handle.truncate(0)
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
