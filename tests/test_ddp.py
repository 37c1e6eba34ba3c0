"""`torchrun --nproc-per-node 2 -m rnncli train lm` with DistributedDataParallel over gloo."""

import json
import os
import subprocess
import sys

import pytest
import torch

from conftest import ROOT, TINY_LM
from rnncli.checkpoint import load_trainer_state, read_metrics


def test_two_gloo_processes_train_and_the_result_loads_in_one(lm_text, tmp_path, cli):
    train, valid = lm_text
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "rnncli", "train", "lm", "--train", str(train), "--valid", str(valid), "--out", str(out),
               "--max-steps", "30", "--eval-every", "15", "--device", "cpu", "--seed", "2", *TINY_LM]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = read_metrics(out)
    assert [r["step"] for r in records] == [15, 30]  # rank 0 alone logged: no duplicates
    config = json.loads((out / "config.json").read_text())
    assert config["progress"]["steps"] == 30
    # The saved weights load in a single process and give the dev figure logged in training.
    result = cli("eval", out, valid, "--json", "--device", "cpu")
    assert result.code == 0, result.err
    best = config["progress"]["best"]["value"]
    assert json.loads(result.out)["nats_per_char"] == pytest.approx(best, rel=1e-6)
    # the kept weights are the best evaluation's, and training improved on the first one
    assert best == min(r["nats_per_char"] for r in records)
    assert records[-1]["nats_per_char"] < records[0]["nats_per_char"]


def test_two_gloo_processes_resume_exactly(lm_text, tmp_path):
    """Each rank draws its own dropout masks, so a resumed run must give every rank back its
    own RNG streams (not rank 0's) to continue like the run that never stopped. The training
    records (every 3 steps: one window spans the stop at step 8) are the same too."""
    train, valid = lm_text

    def torchrun(out, steps, *extra):
        # A constant schedule: the cosine horizon would follow --max-steps, which differs here.
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                   "-m", "rnncli", "train", "lm", "--train", str(train), "--valid", str(valid), "--out", str(out),
                   "--max-steps", str(steps), "--eval-every", "8", "--schedule", "constant", "--warmup", "3",
                   "--dropout", "0.3", "--device", "cpu", "--seed", "2", "--log-every", "3", *TINY_LM, *extra]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=ROOT,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode == 0, proc.stderr[-3000:]

    torchrun(tmp_path / "whole", 16)
    torchrun(tmp_path / "part", 8)
    torchrun(tmp_path / "part", 16, "--resume")
    whole, part = load_trainer_state(tmp_path / "whole"), load_trainer_state(tmp_path / "part")
    assert part["loop"]["step"] == whole["loop"]["step"] == 16
    assert len(part["rng_ranks"]) == 2
    for key, tensor in whole["model"].items():
        assert torch.equal(tensor, part["model"][key]), key
    timing = ("elapsed", "units_per_s")
    logged = [[{k: v for k, v in r.items() if k not in timing} for r in read_metrics(out, kind=None)]
              for out in (tmp_path / "whole", tmp_path / "part")]
    assert [r["step"] for r in logged[0] if r["kind"] == "train"] == [3, 6, 9, 12, 15]
    assert logged[0] == logged[1]
