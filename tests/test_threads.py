"""--threads on every command, the default that leaves busy cores alone, and the default
patience that stops a run whose validation metric has stopped improving."""

import os

import pytest
import torch
from torch import nn

from conftest import DATA
from rnncli import threads as runtime
from rnncli.config import TrainConfig
from rnncli.errors import ConfigError, UsageError
from rnncli.training import Finished, Notice, TrainJob, train

TINY_CLASSIFY = ["--train", DATA / "classify/train.tsv", "--valid", DATA / "classify/valid.tsv",
                 "--tokenizer", "char", "--embed", "8", "--hidden", "8", "--batch-size", "64",
                 "--eval-every", "2", "--device", "cpu", "--threads", "1"]


@pytest.fixture
def machine(monkeypatch):
    """A machine of `cores` cores whose load average is `load`, `running` tasks runnable now."""
    def set_machine(cores, load, running=None):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
        monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
        monkeypatch.setattr(runtime, "runnable_now", lambda: running)
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    return set_machine


@pytest.mark.parametrize("cores, load, running, expected", [
    (4, 0.1, 1, 4),      # an idle machine (only this process runs): every core
    (4, 1.4, 2, 3),      # one other task running: the cores left
    (4, 2.6, 4, 1),      # three others
    (2, 9.0, 12, 1),     # overloaded: still one thread
    (4, 2.0, 1, 4),      # the average still counts a job that has just ended: nothing runs now
    (2, 0.0, 2, 1),      # two jobs started together: the average has not seen the other yet
    (4, 3.0, None, 1),   # no /proc: the load average alone, rounded
    (4, 1.4, None, 3),
    (1, 0.0, 1, 1),
])
def test_default_threads_takes_the_cores_other_processes_leave_free(machine, cores, load, running, expected):
    machine(cores, load, running)
    assert runtime.default_threads() == expected
    choice = runtime.choose_threads(None)
    assert (choice.threads, choice.cores, choice.source) == (expected, cores, "default")
    assert (choice.note() is not None) == (expected < cores)


def test_runnable_tasks_are_read_from_the_kernel():
    if not os.path.exists("/proc/loadavg"):
        pytest.skip("no /proc/loadavg here")
    assert runtime.runnable_now() >= 1   # this process runs while it looks


def test_default_threads_is_shared_among_torchrun_processes(machine, monkeypatch):
    machine(8, 0.0, 1)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert runtime.default_threads() == 4


def test_threads_given_or_in_the_environment_win_over_the_default(machine, monkeypatch):
    machine(2, 5.0, 6)
    assert runtime.choose_threads(3).threads == 3 and runtime.choose_threads(3).note() is None
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert runtime.choose_threads(None).source == "OMP_NUM_THREADS"
    assert runtime.choose_threads(None).threads == 2 and runtime.choose_threads(1).threads == 1
    with pytest.raises(ConfigError, match="--threads 0 must be at least 1"):
        runtime.choose_threads(0)


@pytest.fixture
def probe(monkeypatch):
    """`rnncli data check` whose check reports the torch thread count it ran with."""
    import rnncli.datacheck

    def check(*args, **kwargs):
        raise UsageError(f"probe: {torch.get_num_threads()} threads")

    monkeypatch.setattr(rnncli.datacheck, "check", check)
    return ["data", "check", "--task", "classify", "--train", DATA / "classify/train.tsv"]


def test_threads_option_reaches_torch_for_the_command_only(cli, probe):
    before = torch.get_num_threads()
    result = cli(*probe, "--threads", "3")
    assert result.code == 2 and "probe: 3 threads" in result.err
    assert torch.get_num_threads() == before   # in-process callers get their count back


def test_the_default_under_load_is_said_on_stderr(cli, probe, machine):
    machine(2, 0.3, 2)
    result = cli(*probe)
    assert "probe: 1 threads" in result.err
    assert "rnncli: using 1 of 2 cores: other processes keep about 1 busy (--threads N to choose)" in result.err
    machine(2, 0.0, 1)
    result = cli(*probe)
    assert "probe: 2 threads" in result.err and "cores" not in result.err


def test_quiet_keeps_the_thread_note_off_stderr(cli, machine, tmp_path):
    machine(2, 0.3, 2)
    text = tmp_path / "hyp.txt"
    text.write_text("a small house\n")
    loud = cli("eval", "--hyp", text, "--ref", text)
    assert loud.code == 0 and "rnncli: using 1 of 2 cores" in loud.err
    quiet = cli("eval", "--hyp", text, "--ref", text, "--quiet")
    assert quiet.code == 0 and "cores" not in quiet.err and quiet.out == loud.out


@pytest.mark.parametrize("value", ["0", "-1"])
def test_threads_below_one_is_a_usage_error(cli, value):
    for command in (["info", "no-such-dir"], ["train", "lm", "--train", "x.txt", "--out", "o"]):
        result = cli(*command, "--threads", value)
        assert result.code == 2 and result.out == ""
        assert result.err == f"rnncli: error: --threads {value} must be at least 1\n"


def test_every_command_offers_threads(cli):
    from rnncli.cli.app import COMMANDS
    from rnncli.tasks import TASKS

    commands = [["train", name] for name in TASKS] + [[name] for name, _, _ in COMMANDS] + [["data", "check"]]
    for command in commands:
        result = cli(*command, "--help")
        assert result.code == 0 and "--threads N" in result.out, command


# ---- early stopping by default ------------------------------------------------------------
def plateau_job(values):
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    scores = iter(values)

    def loss(model, batch):
        return model(batch).pow(2).mean(), len(batch)

    return TrainJob(model=model, loss=loss, epoch_batches=lambda epoch: [torch.ones(4, 2)] * 10,
                    evaluate=lambda model, device: {"score": next(scores)}, metric="score", maximize=True)


def test_default_patience_stops_a_plateau_and_says_why():
    assert TrainConfig().patience == 5
    events = list(train(plateau_job([0.5, 0.6, 0.6, 0.55, 0.6, 0.59, 0.6] + [0.9] * 50),
                        TrainConfig(epochs=100, eval_every=2, device="cpu")))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "early stopping"
    assert (finished.step, finished.best_step, finished.best_value) == (14, 4, 0.6)
    notices = [e.text for e in events if isinstance(e, Notice)]
    assert notices == ["early stopping: no improvement in 5 evaluations since step 4"]


def test_patience_zero_runs_on():
    events = list(train(plateau_job([0.5] * 30), TrainConfig(epochs=2, eval_every=2, patience=0, device="cpu")))
    assert events[-1].reason == "completed" and events[-1].step == 20


def test_a_default_cli_run_on_a_flat_metric_stops_and_prints_the_reason(cli, tmp_path):
    # a learning rate too small to move the accuracy: validation is flat from the first evaluation
    flat = ["--lr", "1e-9", "--warmup", "0", "--epochs", "50", "--json"]
    result = cli("train", "classify", *TINY_CLASSIFY, *flat, "--out", tmp_path / "default")
    assert result.code == 0, result.err
    assert "rnncli: early stopping: no improvement in 5 evaluations since step 2" in result.err
    assert '"reason": "early stopping"' in result.out and '"steps": 12' in result.out
    result = cli("train", "classify", *TINY_CLASSIFY, *flat, "--patience", "0", "--max-steps", "16",
                 "--out", tmp_path / "off")
    assert result.code == 0 and "early stopping" not in result.err and '"steps": 16' in result.out
    result = cli("train", "classify", *TINY_CLASSIFY, "--patience", "-1", "--out", tmp_path / "bad")
    assert result.code == 2 and "--patience -1 must not be negative" in result.err

