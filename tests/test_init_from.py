"""`train classify|tag --init-from LM`: ULMFiT-style transfer (rnncli/tasks/transfer.py), gradual
unfreezing and discriminative learning rates (rnncli/optim.py: LayerPlan)."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

import rnncli
from conftest import DATA, StopAtStep
from rnncli.checkpoint import CheckpointWriter, load_trainer_state, write_config
from rnncli.config import TrainConfig
from rnncli.errors import Interrupted
from rnncli.optim import LayerPlan, make_optimizer, set_lr
from rnncli.training import StepDone, TrainJob, train

CLS = DATA / "classify"
TAG = DATA / "tag"
TINY_CLS = ["--batch-size", "64", "--quiet"]
TINY_LM = ["--embed", "16", "--hidden", "24", "--layers", "2", "--batch-size", "8", "--seq-len", "16",
           "--max-steps", "20", "--eval-every", "20", "--quiet"]


def lm_checkpoint(root, text, tokenizer="word", extra=()):
    from rnncli.cli.app import run

    (root / "text.txt").write_text(text, encoding="utf-8")
    out = root / "lm"
    args = ["train", "lm", "--train", str(root / "text.txt"), "--out", str(out), "--tokenizer", tokenizer,
            *TINY_LM, *extra]
    assert run(args, False) == 0
    return out


@pytest.fixture(scope="session")
def word_lm(tmp_path_factory):
    """A 2-layer word LM on the classification sample's texts (unlabelled text)."""
    lines = (CLS / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return lm_checkpoint(tmp_path_factory.mktemp("wordlm"), "\n".join(x.split("\t")[0] for x in lines) + "\n")


@pytest.fixture(scope="session")
def tag_lm(tmp_path_factory):
    """A word LM on the tagging sample's sentences, lowercased as the tagger looks words up."""
    sentences, words = [], []
    for line in (TAG / "train.iob1.conll").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if words:
                sentences.append(" ".join(words))
            words = []
        elif not line.startswith("-DOCSTART-"):
            words.append(line.split()[0].lower())
    return lm_checkpoint(tmp_path_factory.mktemp("taglm"), "\n".join(sentences) + "\n", extra=["--layers", "1"])


def built(task_name, **options):
    """(task, model) as the training driver builds them for a fresh run, before any step."""
    from rnncli.api import make_run
    from rnncli.readers.text import Source
    from rnncli.tasks import task_class

    run, _ = make_run(task_name, options)
    task_type = task_class(task_name)
    task = task_type(task_type.fresh_settings(run.settings, run.train, run.given), run.train)
    task.read_data({name: Source(path) for name, path in run.files.items() if path is not None})
    task.vocab = task.build_tokenizers()
    return task, task.build_model()


def lm_weights(lm):
    return load_file(lm / "model.safetensors")


def classify_files(tmp_path):
    return {"train": CLS / "train.tsv", "valid": CLS / "valid.tsv", "out": tmp_path / "c"}


# ---- the copy ----------------------------------------------------------------------------------
def test_unidirectional_encoder_equals_the_lm_before_training(word_lm, tmp_path):
    task, model = built("classify", **classify_files(tmp_path), init_from=str(word_lm), bidirectional=False)
    lm = lm_weights(word_lm)
    assert model.config.embed == 16 and model.config.hidden == 24 and model.config.layers == 2
    assert torch.equal(model.embedding.weight[1:], lm["embedding.weight"][1:])
    assert not model.embedding.weight[0].any()            # the padding row stays zero
    for name, tensor in model.rnn.state_dict().items():
        assert torch.equal(tensor, lm["rnn." + name]), name


def test_bidirectional_forward_direction_from_the_lm_backward_fresh(word_lm, tmp_path):
    _, model = built("classify", **classify_files(tmp_path), init_from=str(word_lm))
    lm, rnn = lm_weights(word_lm), model.rnn.state_dict()
    assert torch.equal(rnn["rnn.weight_ih_l0"], lm["rnn.rnn.weight_ih_l0"])
    assert torch.equal(rnn["rnn.weight_hh_l1"], lm["rnn.rnn.weight_hh_l1"])
    upper = rnn["rnn.weight_ih_l1"]                        # reads both directions: (4H, 2H)
    assert torch.equal(upper[:, :24], lm["rnn.rnn.weight_ih_l1"]) and not upper[:, 24:].any()
    assert not torch.equal(rnn["rnn.weight_hh_l0_reverse"], lm["rnn.rnn.weight_hh_l0"])


def test_tagger_copies_words_and_switches_character_columns_off(tag_lm, tmp_path):
    _, model = built("tag", train=TAG / "train.iob1.conll", valid=TAG / "valid.iob1.conll", out=tmp_path / "t",
                     init_from=str(tag_lm), char_features=8)
    lm = lm_weights(tag_lm)
    assert torch.equal(model.embedding.weight[1:], lm["embedding.weight"][1:])
    first = model.rnn.rnn.weight_ih_l0                      # inputs: 16 word dims, then 8 character dims
    assert torch.equal(first[:, :16], lm["rnn.rnn.weight_ih_l0"]) and not first[:, 16:].any()


# ---- settings and tokenizer --------------------------------------------------------------------
@pytest.mark.parametrize("option, value, named", [("--hidden", "32", "--hidden 32"), ("--cell", "gru", "--cell gru"),
                                                  ("--tokenizer", "unigram", "--tokenizer unigram"),
                                                  ("--layer-norm", None, "--layer-norm")])
def test_a_conflicting_option_is_exit_2_naming_it(cli, word_lm, tmp_path, option, value, named):
    given = [option] if value is None else [option, value]
    result = cli("train", "classify", "--train", CLS / "train.tsv", "--valid", CLS / "valid.tsv", "--out",
                 tmp_path / "c", "--init-from", word_lm, *given, *TINY_CLS)
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.startswith(f"rnncli: error: {named} conflicts with --init-from") and "Traceback" not in result.err
    assert not (tmp_path / "c").exists()                  # nothing left behind


def test_options_equal_to_the_lm_are_fine_and_bad_sources_are_exit_2(cli, word_lm, tmp_path):
    base = ["train", "classify", "--train", CLS / "train.tsv", "--valid", CLS / "valid.tsv", *TINY_CLS,
            "--max-steps", "2"]
    assert cli(*base, "--out", tmp_path / "a", "--init-from", word_lm, "--hidden", "24", "--cell", "lstm").code == 0
    missing = cli(*base, "--out", tmp_path / "b", "--init-from", tmp_path / "nowhere")
    assert missing.code == 2 and "--init-from: " in missing.err and "no such checkpoint" in missing.err
    not_lm = cli(*base, "--out", tmp_path / "b", "--init-from", tmp_path / "a")
    assert not_lm.code == 2 and "is a 'classify' checkpoint" in not_lm.err


def test_tagger_needs_a_word_lm_and_its_vocabulary(cli, word_lm, tmp_path):
    sub = lm_checkpoint(tmp_path, "a b c d e f g\n" * 50, tokenizer="char")
    base = ["train", "tag", "--train", TAG / "train.iob1.conll", "--valid", TAG / "valid.iob1.conll",
            "--out", tmp_path / "t", "--quiet"]
    refused = cli(*base, "--init-from", sub)
    assert refused.code == 2 and "char tokenizer" in refused.err and "--tokenizer word" in refused.err
    capped = cli(*base, "--init-from", word_lm, "--vocab-size", "50")
    assert capped.code == 2 and capped.err.startswith("rnncli: error: --vocab-size conflicts with --init-from")


def test_the_lm_tokenizer_is_saved_and_used(cli, word_lm, tmp_path):
    out = tmp_path / "c"
    assert cli("train", "classify", "--train", CLS / "train.tsv", "--valid", CLS / "valid.tsv", "--out", out,
               "--init-from", word_lm, "--max-steps", "3", *TINY_CLS).code == 0
    saved, original = out / "tokenizer" / "tokenizer.json", word_lm / "tokenizer" / "tokenizer.json"
    assert saved.read_bytes() == original.read_bytes()
    config = json.loads((out / "config.json").read_text())
    lm_config = json.loads((word_lm / "config.json").read_text())
    assert config["init_from"]["run_id"] == lm_config["run_id"] and config["tokenizer"]["kind"] == "word"
    assert config["options"]["init_from"] == str(word_lm) and config["options"]["hidden"] == 24
    assert rnncli.load(out).tokenizer.symbols == rnncli.load(word_lm).tokenizer.symbols


# ---- layer groups: unfreezing and discriminative rates -----------------------------------------
def test_plan_arithmetic():
    plan = LayerPlan((("e",), ("l0",), ("l1",), ("head",)), lr_decay=0.5, unfreeze_every=3)
    assert [plan.lr_scale(i) for i in range(4)] == [0.125, 0.25, 0.5, 1.0]
    trainable = [[plan.trainable(i, step) for i in range(4)] for step in (0, 2, 3, 5, 6, 9, 100)]
    assert trainable == [[False, False, False, True]] * 2 + [[False, False, True, True]] * 2 + \
        [[False, True, True, True], [True] * 4, [True] * 4]


def groups_of(model, plan):
    named = dict(model.named_parameters())
    return [[named[n] for n in group] for group in plan.groups]


def test_discriminative_rates_in_the_optimizer_groups(word_lm, tmp_path):
    task, model = built("classify", **classify_files(tmp_path), init_from=str(word_lm), lr_layer_decay=0.5)
    plan = task.layer_plan(model)
    assert [len(g) for g in plan.groups][:1] == [1] and len(plan.groups) == 4   # embedding, 2 layers, head
    optimizer = make_optimizer(model, TrainConfig(lr=1e-3), plan)
    set_lr(optimizer, 1e-3)
    assert optimizer.param_groups[0]["lr"] == 1e-3        # the head first: logs report its rate
    for index, params in enumerate(groups_of(model, plan)):
        wanted = 1e-3 * 0.5 ** (3 - index)
        for param in params:
            group = next(g for g in optimizer.param_groups if any(p is param for p in g["params"]))
            assert group["lr"] == pytest.approx(wanted) and group["lr_scale"] == 0.5 ** (3 - index)
    plain, model = built("classify", **classify_files(tmp_path / "x"), tokenizer="word")
    assert plain.layer_plan(model) is None                 # both off: the optimizer as before


def test_unfreezing_freezes_what_it_says_at_the_right_steps(word_lm, tmp_path):
    task, model = built("classify", **classify_files(tmp_path), init_from=str(word_lm), unfreeze_every=2)
    plan = task.layer_plan(model)
    groups = groups_of(model, plan)
    job = TrainJob(model=model, loss=task.loss, epoch_batches=task.epoch_batches, evaluate=task.evaluate,
                   metric="accuracy", maximize=True, layers=plan)
    before = [[p.detach().clone() for p in g] for g in groups]
    changed, flags = {}, {}
    for event in train(job, TrainConfig(lr=1e-2, warmup=0, max_steps=8, eval_every=100, device="cpu")):
        if isinstance(event, StepDone):
            now = [[p.detach().clone() for p in g] for g in groups]
            changed[event.step] = [any(not torch.equal(a, b) for a, b in zip(x, y)) for x, y in zip(before, now)]
            flags[event.step] = [all(p.requires_grad for p in g) for g in groups]
            before = now
    # groups: embedding, layer 0, layer 1, head; one more joins every 2 steps, from the top
    expected = {1: [0, 0, 0, 1], 2: [0, 0, 0, 1], 3: [0, 0, 1, 1], 4: [0, 0, 1, 1], 5: [0, 1, 1, 1],
                6: [0, 1, 1, 1], 7: [1, 1, 1, 1], 8: [1, 1, 1, 1]}
    assert changed == {k: [bool(x) for x in v] for k, v in expected.items()}
    assert flags == changed
    assert all(p.requires_grad for p in model.parameters())   # trainable again after the loop


def test_resume_with_unfreezing_and_layer_rates_is_exact(word_lm, tmp_path):
    config = TrainConfig(lr=1e-2, warmup=3, max_steps=14, eval_every=5, device="cpu", seed=4)

    def job():
        torch.manual_seed(0)                               # the same fresh head for both runs
        task, model = built("classify", **classify_files(tmp_path), init_from=str(word_lm), unfreeze_every=3,
                            lr_layer_decay=0.5)
        return TrainJob(model=model, loss=task.loss, epoch_batches=task.epoch_batches, evaluate=task.evaluate,
                        metric="accuracy", maximize=True, layers=task.layer_plan(model))

    def writer(name):
        (tmp_path / name).mkdir()
        write_config(tmp_path / name, {"task": "toy"})
        return CheckpointWriter(tmp_path / name, {"task": "toy"})

    list(train(job(), config, writer("whole")))
    parted_job = job()
    with pytest.raises(Interrupted):
        list(train(parted_job, config, writer("parted"), stop=StopAtStep(parted_job, 7)))   # inside a phase
    halfway = load_trainer_state(tmp_path / "parted")
    assert halfway["loop"]["step"] == 7
    list(train(job(), config, CheckpointWriter(tmp_path / "parted", {"task": "toy"}), resume_state=halfway))
    whole, parted = load_trainer_state(tmp_path / "whole"), load_trainer_state(tmp_path / "parted")
    assert parted["loop"]["step"] == whole["loop"]["step"] == 14
    for key, tensor in whole["model"].items():
        assert torch.equal(tensor, parted["model"][key]), key
    assert [g["lr"] for g in whole["optimizer"]["param_groups"]] == \
        [g["lr"] for g in parted["optimizer"]["param_groups"]]


def test_cli_resume_continues_without_the_lm(cli, word_lm, tmp_path):
    lm = tmp_path / "lm"
    shutil.copytree(word_lm, lm)
    args = ["train", "classify", "--train", CLS / "train.tsv", "--valid", CLS / "valid.tsv", "--init-from", lm,
            "--unfreeze-every", "4", "--lr-layer-decay", "0.5", "--schedule", "constant", "--warmup", "0",
            *TINY_CLS]
    assert cli(*args, "--out", tmp_path / "a", "--epochs", "2").code == 0
    assert cli(*args, "--out", tmp_path / "b", "--epochs", "1").code == 0
    shutil.rmtree(lm)                                      # resume reads weights and tokenizer from --out
    assert cli(*args, "--out", tmp_path / "b", "--epochs", "2", "--resume").code == 0
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(tmp_path / "b" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ---- end to end --------------------------------------------------------------------------------
def test_train_lm_then_classify_from_it_then_classify(cli, tmp_path):
    lines = (CLS / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    (tmp_path / "text.txt").write_text("\n".join(x.split("\t")[0] for x in lines) + "\n", encoding="utf-8")
    assert cli("train", "lm", "--train", tmp_path / "text.txt", "--out", tmp_path / "lm", "--tokenizer", "unigram",
               "--vocab-size", "200", *TINY_LM).code == 0
    trained = cli("train", "classify", "--train", CLS / "train.tsv", "--valid", CLS / "valid.tsv", "--out",
                  tmp_path / "c", "--init-from", tmp_path / "lm", "--unfreeze-every", "5", "--lr-layer-decay", "0.4",
                  "--max-steps", "30", "--eval-every", "15", "--batch-size", "32", "--json", "--quiet")
    assert trained.code == 0 and json.loads(trained.out)["steps"] == 30
    labelled = cli("classify", tmp_path / "c", CLS / "unlabelled.txt")
    inputs = (CLS / "unlabelled.txt").read_text(encoding="utf-8").splitlines()
    assert labelled.code == 0 and len(labelled.out.splitlines()) == len(inputs)
    assert json.loads((tmp_path / "c" / "config.json").read_text())["tokenizer"]["kind"] == "unigram"


def test_api_forwards_init_from_and_tagging_end_to_end(cli, tag_lm, tmp_path):
    result = rnncli.train("tag", train=TAG / "train.iob1.conll", valid=TAG / "valid.iob1.conll", out=tmp_path / "t",
                          init_from=str(tag_lm), unfreeze_every=2, max_steps=6, eval_every=3, char_features=8,
                          quiet=True)
    assert result.steps == 6
    assert json.loads((tmp_path / "t" / "config.json").read_text())["init_from"]["path"] == str(tag_lm.resolve())
    tagged = cli("tag", tmp_path / "t", TAG / "sentences.txt")
    assert tagged.code == 0 and len(tagged.out.splitlines()) == len((TAG / "sentences.txt").read_text().splitlines())
