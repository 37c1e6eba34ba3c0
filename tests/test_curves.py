"""Training curves (metrics.jsonl "train" records, `info --curves / --plot-out`) and shell
completion (`--show-completion`, the completion protocol itself)."""

import json
import sys

import pytest
import torch

from conftest import DATA, TINY_LM, run_subprocess
from rnncli.checkpoint import CheckpointWriter, load_trainer_state, read_metrics, write_config
from rnncli.config import RESUME_OVERRIDABLE, TrainConfig
from rnncli.errors import Interrupted
from rnncli.models.lm import LanguageModel, LMConfig
from rnncli.signals import StopSignal
from rnncli.tasks.lm import lm_loss, window_batches
from rnncli.training import StepDone, TrainJob, train

STREAM = torch.randint(4, 20, (2000,), generator=torch.Generator().manual_seed(3))
CONFIG = TrainConfig(lr=1e-2, warmup=5, epochs=2, eval_every=7, log_every=4, device="cpu", seed=0)
TIMING = ("elapsed", "units_per_s")   # wall-clock figures: the only ones a resumed run may change


def make_job(stop_after=None, stop=None):
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=20, embed=8, hidden=16, dropout=0.3))
    calls = []

    def loss(model, batch):
        calls.append(1)
        if stop is not None and len(calls) == stop_after:
            stop.signum = 15           # 'arrives' during this step: the loop saves after it
        return lm_loss(model, batch)

    def evaluate(model, device):
        return {"score": float(lm_loss(model, {"ids": STREAM[:201].view(1, 201)})[0])}

    return TrainJob(model=model, loss=loss, metric="score", maximize=False, evaluate=evaluate,
                    epoch_batches=lambda epoch: window_batches(STREAM, 16, 8, 0, epoch))


def writer_in(directory, resumed_at=None):
    directory.mkdir(exist_ok=True)
    write_config(directory, {"task": "toy"})
    return CheckpointWriter(directory, {"task": "toy"}, resumed_at=resumed_at)


def without_timing(records):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def test_train_records_every_n_steps_with_loss_lr_and_throughput(tmp_path):
    events = list(train(make_job(), CONFIG, writer_in(tmp_path / "run")))
    steps = [e for e in events if isinstance(e, StepDone)]
    total = steps[-1].step
    records = read_metrics(tmp_path / "run", kind="train")
    assert [r["step"] for r in records] == list(range(4, total + 1, 4))
    for record in records:
        window = steps[record["step"] - 4:record["step"]]
        assert record["kind"] == "train" and record["steps"] == 4 and record["unit"] == "tokens"
        assert record["loss"] == pytest.approx(sum(e.loss for e in window) / 4, rel=1e-12)
        assert record["lr"] == window[-1].lr and record["units_per_s"] > 0 and record["elapsed"] >= 0
    # evaluation records keep their figures and are what read_metrics gives by default
    evaluations = read_metrics(tmp_path / "run")
    assert [r["step"] for r in evaluations] == [s for s in range(7, total + 1, 7)] + ([total] * (total % 7 > 0))
    assert all(r["kind"] == "eval" and "score" in r and "loss" not in r for r in evaluations)
    assert len(read_metrics(tmp_path / "run", kind=None)) == len(records) + len(evaluations)
    assert "log_every" in RESUME_OVERRIDABLE          # it changes what is logged, never the weights


def test_log_every_zero_turns_train_records_off(tmp_path):
    import dataclasses

    list(train(make_job(), dataclasses.replace(CONFIG, log_every=0, epochs=1), writer_in(tmp_path / "run")))
    assert read_metrics(tmp_path / "run", kind="train") == []
    assert read_metrics(tmp_path / "run")


def test_resume_keeps_weights_and_records_exact(tmp_path):
    list(train(make_job(), CONFIG, writer_in(tmp_path / "whole")))
    stop = StopSignal()
    with pytest.raises(Interrupted):        # at step 18: the record window 17..20 spans the stop
        list(train(make_job(18, stop), CONFIG, writer_in(tmp_path / "part"), stop=stop))
    halfway = load_trainer_state(tmp_path / "part")
    assert halfway["loop"]["step"] == 18 and halfway["loop"]["window"]["steps"] == 2
    # What a kill after logging step 20 but before its save would leave: a record ahead of the state.
    with open(tmp_path / "part" / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"kind": "train", "step": 20, "loss": 99.0, "lr": 1.0}) + "\n")
    list(train(make_job(), CONFIG, writer_in(tmp_path / "part", resumed_at=18), resume_state=halfway))
    whole, part = load_trainer_state(tmp_path / "whole"), load_trainer_state(tmp_path / "part")
    assert part["loop"]["step"] == whole["loop"]["step"]
    for key, tensor in whole["model"].items():
        assert torch.equal(tensor, part["model"][key]), key
    expected = read_metrics(tmp_path / "whole", kind=None)
    assert sum(r["kind"] == "train" for r in expected) >= 5
    assert without_timing(read_metrics(tmp_path / "part", kind=None)) == without_timing(expected)


@pytest.fixture(scope="module")
def curved(tmp_path_factory):
    """A tiny LM trained through the CLI with training records every 3 steps."""
    from rnncli.cli.app import run

    out = tmp_path_factory.mktemp("curves") / "lm"
    text = out.parent / "lm.txt"
    text.write_text((DATA / "lm" / "train.txt").read_text(encoding="utf-8")[:20_000], encoding="utf-8")
    code = run(["train", "lm", "--train", str(text), "--out", str(out), "--max-steps", "12",
                "--eval-every", "6", "--log-every", "3", "--device", "cpu", *TINY_LM], False)
    assert code == 0
    return out


def test_info_curves_draws_both_curves_on_stdout(cli, curved):
    assert [r["step"] for r in read_metrics(curved, kind="train")] == [3, 6, 9, 12]
    result = cli("info", curved, "--curves")
    assert result.code == 0 and result.err == ""
    assert "training loss" in result.out and "validation nats_per_char" in result.out
    assert "\x1b[" not in result.out                        # not a terminal: no colour codes
    assert any("\u2800" <= ch <= "\u28ff" for ch in result.out)   # the braille line of the plot
    report = json.loads(cli("info", curved, "--curves", "--json").out)
    assert [p["step"] for p in report["curves"]["train"]] == [3, 6, 9, 12]
    assert [p["step"] for p in report["curves"]["eval"]] == [6, 12]
    assert report["curves"]["metric"] == "nats_per_char" and report["task"] == "lm"


def test_info_plot_out_writes_a_png(cli, curved, tmp_path):
    image = tmp_path / "curves.png"
    result = cli("info", curved, "--plot-out", image)
    assert result.code == 0, result.err
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "checkpoint" in result.out and f"wrote the training curves to {image}" in result.err
    wrong = cli("info", curved, "--plot-out", tmp_path / "curves.jpg")
    assert wrong.code == 2 and "give a .png file name" in wrong.err and not (tmp_path / "curves.jpg").exists()


def test_curves_without_the_extra_or_records_are_one_line_errors(cli, curved, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "plotext", None)        # `import plotext` now fails
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for option in (["--curves"], ["--plot-out", str(tmp_path / "c.png")]):
        result = cli("info", curved, *option)
        assert result.code == 2 and result.out == ""
        assert result.err.count("\n") == 1 and "pip install 'rnncli[plot]'" in result.err
    bare = tmp_path / "bare"                                  # a checkpoint with no records yet
    bare.mkdir()
    (bare / "config.json").write_bytes((curved / "config.json").read_bytes())
    result = cli("info", bare, "--curves")
    assert result.code == 2 and "no training or evaluation records" in result.err


def test_show_completion_prints_a_bash_script_and_completion_answers():
    result = run_subprocess("--show-completion", env={"SHELL": "/bin/bash"})
    assert result.code == 0, result.err
    assert "_rnncli_completion()" in result.out and "complete -o default -F _rnncli_completion rnncli" in result.out
    asked = run_subprocess(env={"_RNNCLI_COMPLETE": "complete_bash", "COMP_WORDS": "rnncli info ckpt --cu",
                                "COMP_CWORD": "3"})
    assert asked.code == 0 and asked.out.split() == ["--curves"]
    root_help = run_subprocess("--help")
    assert root_help.code == 0 and "--install-completion" in root_help.out
