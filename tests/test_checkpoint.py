"""Checkpoint files: atomic writes, and loading that never runs code or accepts damage."""

import os
import pickle

import pytest
import torch

from rnncli import atomic
from rnncli.checkpoint import (load_trainer_state, load_weights, read_config, save_trainer_state,
                               save_weights, write_config)
from rnncli.errors import CheckpointError
from rnncli.models.lm import LanguageModel, LMConfig


def small_model(seed=0, tie=True):
    torch.manual_seed(seed)
    return LanguageModel(LMConfig(vocab_size=10, embed=8, hidden=8, tie_embeddings=tie))


def test_weights_round_trip_with_tied_embeddings(tmp_path):
    model = small_model(0)
    save_weights(tmp_path, model)
    other = small_model(1)
    load_weights(tmp_path, other)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    assert other.output.weight is other.embedding.weight
    # Files get the usual permissions (0666 less the umask), not mkstemp's or the writer's 0600.
    mask = atomic.current_umask()
    for name in ("model.safetensors",):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_failure_mid_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    first = small_model(0)
    save_weights(tmp_path, first)
    save_trainer_state(tmp_path, {"format": 1, "step": 1})
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def crash(*args, **kwargs):
        raise OSError("disk full (injected)")

    monkeypatch.setattr(atomic.os, "replace", crash)
    with pytest.raises(OSError, match="injected"):
        save_weights(tmp_path, small_model(1))
    with pytest.raises(OSError, match="injected"):
        save_trainer_state(tmp_path, {"format": 1, "step": 2})
    monkeypatch.undo()
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # same files, same bytes, no temporary left behind
    restored = small_model(2)
    load_weights(tmp_path, restored)
    assert torch.equal(restored.embedding.weight, first.embedding.weight)
    assert load_trainer_state(tmp_path)["step"] == 1


class Hostile:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


MARKER = "/tmp/rnncli-hostile-pickle-ran"


def test_hostile_pickle_is_refused_without_running(tmp_path):
    if os.path.exists(MARKER):
        os.unlink(MARKER)
    with open(tmp_path / "trainer_state.pt", "wb") as handle:
        pickle.dump({"format": 1, "payload": Hostile()}, handle)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_trainer_state(tmp_path)
    assert not os.path.exists(MARKER)
    # and through torch.save's zip format too
    torch.save({"format": 1, "payload": Hostile()}, tmp_path / "trainer_state.pt")
    with pytest.raises(CheckpointError, match="refused to load"):
        load_trainer_state(tmp_path)
    assert not os.path.exists(MARKER)


def test_truncated_and_corrupt_files_give_one_line_errors(tmp_path):
    model = small_model()
    save_weights(tmp_path, model)
    save_trainer_state(tmp_path, {"format": 1, "model": model.state_dict()})
    for name in ("model.safetensors", "trainer_state.pt"):
        data = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        load_weights(tmp_path, small_model())
    assert "\n" not in str(info.value) and "model.safetensors" in str(info.value)
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_trainer_state(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 3)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_weights(tmp_path, small_model())


def test_mismatched_weights_and_bad_config(tmp_path):
    save_weights(tmp_path, small_model())
    bigger = LanguageModel(LMConfig(vocab_size=11, embed=8, hidden=8, tie_embeddings=True))
    with pytest.raises(CheckpointError, match="incompatible"):
        load_weights(tmp_path, bigger)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        read_config(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        read_config(tmp_path)
    (tmp_path / "config.json").write_text("{oops", encoding="utf-8")
    with pytest.raises(CheckpointError, match="corrupt JSON"):
        read_config(tmp_path)
    write_config(tmp_path, {"task": "tag"})
    with pytest.raises(CheckpointError, match="is a 'tag' checkpoint"):
        read_config(tmp_path, "lm")


def flatten_like_cudnn(module: torch.nn.RNNBase) -> None:
    """Make an RNN's weights views into one flat buffer, as cuDNN keeps them on CUDA."""
    params = list(module.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    offset = 0
    for p in params:
        p.data = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()


def test_weights_load_into_a_model_whose_rnn_weights_share_one_buffer(tmp_path):
    # Seen on an H200: loading best weights back into a CUDA tagger failed in safetensors'
    # load_model, which refuses a target whose tensors are views of one storage.
    save_weights(tmp_path, small_model(0))
    target = small_model(1)
    flatten_like_cudnn(target.rnn.rnn)
    assert len({p.untyped_storage().data_ptr() for p in target.rnn.rnn.parameters()}) == 1
    load_weights(tmp_path, target)
    saved = small_model(0).state_dict()
    assert all(torch.equal(saved[name], value) for name, value in target.state_dict().items())
    assert target.output.weight is target.embedding.weight
    save_weights(tmp_path / "again", target)   # and such a model saves (portable_tensors copies out)
    load_weights(tmp_path / "again", small_model(2))
