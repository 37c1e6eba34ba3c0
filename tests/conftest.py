"""Shared test helpers: run the real CLI in-process or as a subprocess, tiny corpora."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from rnncli.signals import StopSignal

# Tiny models run fastest on one thread, and one thread per process avoids OpenMP
# oversubscription when several test processes share the machine's two cores.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

# Tiny models keep the suite fast; tests that need more say so.
TINY_LM = ["--hidden", "32", "--embed", "16", "--layers", "1", "--batch-size", "8", "--seq-len", "32",
           "--quiet"]


class StopAtStep(StopSignal):
    """A stop signal (SIGTERM, 15) that 'arrives' during the given step of a TrainJob: its
    loss is wrapped to count the calls, so resume tests stop at an exact step."""

    def __init__(self, job, step: int):
        super().__init__()
        original, calls = job.loss, []

        def counting_loss(model, batch):
            calls.append(1)
            if len(calls) == step:
                self.signum = 15
            return original(model, batch)

        job.loss = counting_loss


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run `rnncli ARGS` in-process through the real entry point; returns code/stdout/stderr."""
    from rnncli.cli.app import run

    def invoke(*args: str, debug: bool = False) -> Result:
        capsys.readouterr()
        code = run([str(a) for a in args], debug)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


def run_subprocess(*args: str, input: str | None = None, timeout: float = 120,
                   env: dict | None = None) -> Result:
    """`python -m rnncli ARGS` in a fresh process (real streams, real exit codes)."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "rnncli", *map(str, args)], input=input,
                          capture_output=True, text=True, timeout=timeout, env=full_env, cwd=ROOT)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def lm_text(tmp_path) -> tuple[Path, Path]:
    """A small train/valid pair cut from the project's own LM sample."""
    text = (DATA / "lm" / "train.txt").read_text(encoding="utf-8")
    train = tmp_path / "train.txt"
    valid = tmp_path / "valid.txt"
    train.write_text(text[:20000], encoding="utf-8")
    valid.write_text(text[20000:23000], encoding="utf-8")
    return train, valid


@pytest.fixture(scope="session")
def trained_lm(tmp_path_factory) -> Path:
    """One tiny trained LM checkpoint shared by the inference tests."""
    from rnncli.cli.app import run

    root = tmp_path_factory.mktemp("lm")
    text = (DATA / "lm" / "train.txt").read_text(encoding="utf-8")
    (root / "train.txt").write_text(text[:20000], encoding="utf-8")
    (root / "valid.txt").write_text(text[20000:23000], encoding="utf-8")
    out = root / "ckpt"
    code = run(["train", "lm", "--train", str(root / "train.txt"), "--valid", str(root / "valid.txt"),
                "--out", str(out), "--max-steps", "40", "--eval-every", "20", "--seed", "3", *TINY_LM], False)
    assert code == 0
    return out
