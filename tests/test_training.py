"""The generic loop on a toy job: exact resume, non-finite steps, early stopping, schedules."""

import math

import pytest
import torch
import torch.nn.functional as F

from conftest import StopAtStep
from rnncli.checkpoint import CheckpointWriter, load_trainer_state, write_config
from rnncli.config import TrainConfig
from rnncli.errors import Interrupted, TrainingError
from rnncli.optim import LRSchedule
from rnncli.tasks.lm import lm_loss, window_batches
from rnncli.training import Evaluated, Finished, Notice, TrainJob, train
from rnncli.models.lm import LanguageModel, LMConfig

STREAM = torch.randint(4, 20, (2000,), generator=torch.Generator().manual_seed(0))


def make_job(seed=0, loss=lm_loss, values=None, init_seed=None):
    torch.manual_seed(seed if init_seed is None else init_seed)
    model = LanguageModel(LMConfig(vocab_size=20, embed=8, hidden=16, dropout=0.3))
    counter = iter(values or [])

    def evaluate(model, device):
        nxt = next(counter, None)
        if nxt is not None:
            return {"score": nxt}
        ids = STREAM[:200].view(4, 50)
        logits, _ = model(ids[:, :-1])
        return {"score": float(F.cross_entropy(logits.reshape(-1, 20), ids[:, 1:].reshape(-1)))}

    return TrainJob(model=model, loss=loss, metric="score", maximize=False,
                    epoch_batches=lambda epoch: window_batches(STREAM, 16, 8, seed, epoch), evaluate=evaluate)


def run_all(events):
    return list(events)


def fresh_dir(tmp_path, name):
    directory = tmp_path / name
    directory.mkdir()
    write_config(directory, {"task": "toy"})
    return CheckpointWriter(directory, {"task": "toy"})


CONFIG = TrainConfig(lr=1e-2, warmup=5, epochs=3, eval_every=7, device="cpu", seed=0)


def test_resume_after_interruption_is_bit_for_bit(tmp_path):
    whole = fresh_dir(tmp_path, "whole")
    run_all(train(make_job(), CONFIG, whole))
    expected = load_trainer_state(whole.directory)

    parted = fresh_dir(tmp_path, "parted")
    job = make_job()
    with pytest.raises(Interrupted) as info:
        run_all(train(job, CONFIG, parted, stop=StopAtStep(job, 23)))
    assert info.value.exit_code == 143
    halfway = load_trainer_state(parted.directory)
    assert halfway["loop"]["step"] == 23
    run_all(train(make_job(init_seed=99), CONFIG, CheckpointWriter(parted.directory, {"task": "toy"}),
                  resume_state=halfway))  # other init: weights must come from the saved state
    got = load_trainer_state(parted.directory)
    assert got["loop"]["step"] == expected["loop"]["step"]
    for key, tensor in expected["model"].items():
        assert torch.equal(tensor, got["model"][key]), key
    assert torch.equal(expected["rng"]["torch"], got["rng"]["torch"])
    assert expected["optimizer"]["state"][0]["exp_avg"].equal(got["optimizer"]["state"][0]["exp_avg"])
    assert [r["score"] for r in whole.records] == [r["score"] for r in CheckpointWriter(parted.directory, {}).records]


def test_sigint_saves_and_exits_130(tmp_path):
    writer = fresh_dir(tmp_path, "sigint")
    job = make_job()
    stop = StopAtStep(job, 4)
    original = job.loss

    def interrupting(model, batch):
        loss = original(model, batch)
        if stop.signum:
            stop.signum = 2
        return loss

    job.loss = interrupting
    with pytest.raises(Interrupted) as info:
        run_all(train(job, CONFIG, writer, stop=stop))
    assert info.value.exit_code == 130
    assert load_trainer_state(writer.directory)["loop"]["step"] == 4


def test_same_seed_same_trained_weights():
    first, second = make_job(), make_job()
    run_all(train(first, TrainConfig(epochs=1, max_steps=8, device="cpu", seed=4)))
    run_all(train(second, TrainConfig(epochs=1, max_steps=8, device="cpu", seed=4)))
    a, b = first.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_non_finite_steps_are_skipped_then_abort(tmp_path):
    calls = {"n": 0}

    def flaky(model, batch):
        loss, units = lm_loss(model, batch)
        calls["n"] += 1
        return (loss * float("nan") if calls["n"] in (3, 4) else loss), units

    writer = fresh_dir(tmp_path, "flaky")
    events = run_all(train(make_job(loss=flaky), TrainConfig(epochs=1, max_steps=10, device="cpu"), writer))
    notices = [e for e in events if isinstance(e, Notice)]
    assert len(notices) == 2 and "non-finite" in notices[0].text
    assert events[-1].skipped_steps == 2

    def broken(model, batch):
        loss, units = lm_loss(model, batch)
        calls["n"] += 1
        return (loss * float("inf") if calls["n"] > 20 else loss), units

    calls["n"] = 0
    writer = fresh_dir(tmp_path, "broken")
    config = TrainConfig(epochs=5, eval_every=10, max_bad_steps=3, device="cpu")
    with pytest.raises(TrainingError, match="3 non-finite steps in a row at step 23"):
        run_all(train(make_job(loss=broken), config, writer))
    state = load_trainer_state(writer.directory)
    assert state["loop"]["step"] == 20  # the last good save is intact
    assert all(torch.isfinite(t).all() for t in state["model"].values())


def test_early_stopping_keeps_best(tmp_path):
    writer = fresh_dir(tmp_path, "early")
    scores = [5.0, 4.0, 4.5, 4.4, 4.3, 1.0]
    config = TrainConfig(epochs=50, eval_every=2, patience=3, device="cpu")
    events = run_all(train(make_job(values=scores), config, writer))
    evaluations = [e for e in events if isinstance(e, Evaluated)]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.reason == "early stopping"
    assert len(evaluations) == 5 and finished.best_value == 4.0 and finished.best_step == 4
    assert writer.config["progress"]["best"] == {"metric": "score", "value": 4.0, "step": 4}


def test_max_steps_and_epoch_limits(tmp_path):
    events = run_all(train(make_job(), TrainConfig(epochs=1, max_steps=5, device="cpu")))
    assert events[-1].reason == "max steps" and events[-1].step == 5
    events = run_all(train(make_job(), TrainConfig(epochs=1, device="cpu")))
    assert events[-1].reason == "completed"


@pytest.mark.parametrize("kind", ["cosine", "inverse-sqrt", "constant", "plateau"])
def test_schedules(kind):
    schedule = LRSchedule(TrainConfig(schedule=kind, warmup=10, min_lr_ratio=0.1, plateau_patience=0))
    if kind != "inverse-sqrt":
        assert schedule.scale(5, 0.0) == pytest.approx(0.5)
    if kind == "cosine":
        assert schedule.scale(11, 0.0) == pytest.approx(1.0)
        assert schedule.scale(100, 1.0) == pytest.approx(0.1)
    if kind == "inverse-sqrt":
        assert schedule.scale(10, 0.0) == pytest.approx(1.0)
        assert schedule.scale(40, 0.0) == pytest.approx(math.sqrt(10 / 40))
    if kind == "plateau":
        schedule.observe(improved=False)
        assert schedule.scale(50, 0.5) == pytest.approx(0.5)
        again = LRSchedule(TrainConfig(schedule=kind, warmup=10, plateau_patience=0))
        again.load_state_dict(schedule.state_dict())
        assert again.scale(50, 0.5) == pytest.approx(0.5)
