"""Hostile use, round 2 (issue 12): each case failed before the fix.

Nothing lost or overwritten, nothing hangs, no silent wrong answer, and a one-line exit 2
(never an internal error) for bad input. Readers' own cases are in test_hostile_readers.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import rnncli
from conftest import DATA, ROOT, TINY_LM, run_subprocess

TAG_TRAIN, TAG_VALID = DATA / "tag/train.iob1.conll", DATA / "tag/valid.iob1.conll"
MT = {"train_src": DATA / "translate/train.en", "train_tgt": DATA / "translate/train.de",
      "valid_src": DATA / "translate/valid.en", "valid_tgt": DATA / "translate/valid.de"}


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    """Tiny classify, tag and translate checkpoints, trained once for this module."""
    root = tmp_path_factory.mktemp("hostile")
    rnncli.train("classify", train=DATA / "classify/train.tsv", valid=DATA / "classify/valid.tsv",
                 out=root / "cls", hidden=16, embed=16, vocab_size=200, max_steps=5)
    rnncli.train("tag", train=TAG_TRAIN, valid=TAG_VALID, out=root / "tag", hidden=16, embed=16,
                 char_features=8, max_steps=5)
    rnncli.train("translate", **MT, out=root / "mt", hidden=32, embed=32, vocab_size=300, max_steps=5)
    return {"cls": root / "cls", "tag": root / "tag", "mt": root / "mt"}


def lm_args(train: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "lm", "--train", str(train), "--out", str(out), "--max-steps", "2", *TINY_LM, *extra]


def one_line_exit_2(result, *needles: str) -> None:
    assert result.code == 2, (result.code, result.err)
    assert result.err.count("\n") == 1 and "Traceback" not in result.err and "internal error" not in result.err
    for needle in needles:
        assert needle in result.err, result.err


# ---- 1. never overwrite what is not ours, nor a finished checkpoint -----------------------
def test_a_directory_of_the_users_files_is_refused_and_kept(cli, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text('{"my": "settings"}')
    (out / "notes.txt").write_text("keep me")
    one_line_exit_2(cli(*lm_args(DATA / "lm/valid.txt", out)), "not an rnncli checkpoint")
    assert (out / "config.json").read_text() == '{"my": "settings"}' and (out / "notes.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "notes.txt"]


def test_a_finished_checkpoint_without_its_state_is_not_overwritten(cli, tmp_path):
    out = tmp_path / "run"
    assert cli(*lm_args(DATA / "lm/valid.txt", out)).code == 0
    (out / "trainer_state.pt").unlink()
    weights = (out / "model.safetensors").read_bytes()
    one_line_exit_2(cli(*lm_args(DATA / "lm/valid.txt", out, "--seed", "9")), "already holds a checkpoint",
                    "--overwrite")
    assert (out / "model.safetensors").read_bytes() == weights
    replaced = cli(*lm_args(DATA / "lm/valid.txt", out, "--seed", "9", "--overwrite"))
    assert replaced.code == 0, replaced.err
    assert json.loads((out / "config.json").read_text())["options"]["seed"] == 9
    assert [r["step"] for r in rnncli.checkpoint.read_metrics(out)] == [2]   # the old records are gone


def test_a_symlink_inside_the_checkpoint_is_never_written_through(cli, tmp_path):
    out, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    assert cli(*lm_args(DATA / "lm/valid.txt", out)).code == 0
    shutil.move(out / "tokenizer", elsewhere)
    (out / "tokenizer").symlink_to(elsewhere)
    before = sorted((p.name, p.read_bytes()) for p in elsewhere.iterdir())
    for extra in (["--overwrite"], ["--resume", "--max-steps", "4"]):
        one_line_exit_2(cli(*lm_args(DATA / "lm/valid.txt", out), *extra), "symbolic link")
    assert sorted((p.name, p.read_bytes()) for p in elsewhere.iterdir()) == before
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "tokenizer").symlink_to(elsewhere)   # not a checkpoint at all: refused as well
    one_line_exit_2(cli(*lm_args(DATA / "lm/valid.txt", fresh)), "not an rnncli checkpoint")


# ---- 2. one writer at a time, and readers see one run's files -------------------------------
def test_a_second_run_on_the_same_directory_waits_for_none_and_names_the_holder(cli, tmp_path):
    from rnncli.rundir import RunLock

    out = tmp_path / "run"
    out.mkdir()
    with RunLock(out):
        result = cli(*lm_args(DATA / "lm/valid.txt", out))
    one_line_exit_2(result, "another training run is writing here", f"pid {os.getpid()} on host")
    assert sorted(p.name for p in out.iterdir()) == [".lock"]
    assert cli(*lm_args(DATA / "lm/valid.txt", out)).code == 0   # free again


def test_weights_of_another_run_are_refused(cli, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    assert cli(*lm_args(DATA / "lm/valid.txt", first)).code == 0
    assert cli(*lm_args(DATA / "lm/valid.txt", second, "--seed", "4")).code == 0
    shutil.copy(second / "model.safetensors", first / "model.safetensors")
    one_line_exit_2(cli("eval", first, DATA / "lm/valid.txt"), "written by another training run")


# ---- 3. stops keep what is done, leave nothing half-written, resume is idempotent -----------
@pytest.mark.parametrize("command", ["translate", "classify", "tag"])
def test_sigterm_keeps_the_lines_already_written_and_exits_143(models, tmp_path, command):
    source = {"translate": DATA / "translate/train.en", "classify": DATA / "classify/unlabelled.txt",
              "tag": DATA / "tag/sentences.txt"}[command]
    lines = source.read_text().splitlines()
    big = tmp_path / "input.txt"
    big.write_text("\n".join(lines * (40_000 // len(lines) + 1)) + "\n")
    checkpoint = models[{"translate": "mt", "classify": "cls", "tag": "tag"}[command]]
    proc = subprocess.Popen([sys.executable, "-m", "rnncli", command, str(checkpoint), str(big), "--batch-size", "64"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    first = proc.stdout.readline()          # something is done
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert first and "terminated by SIGTERM" in err and "Traceback" not in err
    output = (first + rest).splitlines()
    assert 0 < len(output) < len(big.read_text().splitlines())


def recorded_lines(record_file) -> int:
    try:
        return int(json.loads(record_file.read_text())["lines"])
    except (OSError, ValueError, KeyError):
        return 0


def test_sigterm_with_an_output_file_keeps_the_finished_lines_in_the_partial_file(models, tmp_path):
    """-o OUT grows through OUT.partial (issue 13): a stop keeps the finished lines there,
    with their record, and OUT itself appears only when complete."""
    big = tmp_path / "input.txt"
    big.write_text((DATA / "translate/train.en").read_text() * 10)
    out, partial = tmp_path / "hyp.de", tmp_path / "hyp.de.partial"
    proc = subprocess.Popen([sys.executable, "-m", "rnncli", "translate", str(models["mt"]), str(big), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    record_file = tmp_path / "hyp.de.partial.json"
    deadline = time.monotonic() + 60
    # the partial file grows before its record, and only recorded lines count: wait for some
    while not recorded_lines(record_file) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hyp.de.partial", "hyp.de.partial.json", "input.txt"]
    record = json.loads((tmp_path / "hyp.de.partial.json").read_text())
    kept = partial.read_bytes()[:record["bytes"]]
    assert 0 < record["lines"] < 20_000 and kept.count(b"\n") == record["lines"] and kept.endswith(b"\n")


def test_resume_after_a_kill_cleans_temporaries_and_logs_each_evaluation_once(cli, tmp_path):
    out = tmp_path / "run"
    base = ["train", "lm", "--train", str(DATA / "lm/valid.txt"), "--out", str(out), "--eval-every", "2", *TINY_LM]
    assert cli(*base, "--max-steps", "4").code == 0
    # What a SIGKILL between logging step 6 and saving its state leaves: a stray temporary
    # file, and a metrics record ahead of the saved state.
    (out / ".trainer_state.pt.abc123.tmp").write_bytes(b"half")
    with open(out / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 6, "epoch": 0, "nats_per_char": 9.0}) + "\n")
    assert cli(*base, "--max-steps", "8", "--resume").code == 0
    assert [r["step"] for r in rnncli.checkpoint.read_metrics(out)] == [2, 4, 6, 8]
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))


# ---- 4. CoNLL output keeps every input line -------------------------------------------------
def test_conll_output_keeps_docstart_and_blank_lines(cli, models, tmp_path):
    source = tmp_path / "in.conll"
    source.write_text("-DOCSTART- -X- O\n\nAnna NNP\nHolm NNP\n\n\n-DOCSTART- -X- O\nBram NNP\nran VBD")
    out = tmp_path / "out.conll"
    assert cli("tag", models["tag"], source, "--input-format", "conll", "-o", out).code == 0
    got, given = out.read_text().split("\n"), source.read_text().split("\n")
    assert len(got) == len(given) + 1 and got[-1] == ""          # the last line gains its newline
    for out_line, in_line in zip(got, given):
        assert out_line.split()[:-1] == in_line.split() if in_line.strip() else out_line == ""


# ---- 5. huge lines are bounded: one output line each, in pieces -----------------------------
def test_a_huge_line_is_translated_in_pieces_to_one_line(models, tmp_path):
    line = " ".join(["a small dog sees the ball ."] * 3000)        # 21,000 words
    source = tmp_path / "long.en"
    source.write_text(f"The dog.\n{line}\nA cat.\n")
    started = time.monotonic()
    result = run_subprocess("translate", models["mt"], source, "--beam", "2", timeout=120)
    assert result.code == 0, result.err
    assert len(result.out.split("\n")) == 4 and time.monotonic() - started < 100
    assert "1 line(s) longer than 200 source tokens were translated in pieces" in result.err


def test_a_huge_line_is_tagged_in_pieces_and_classified_cut(models, tmp_path):
    source = tmp_path / "long.txt"
    source.write_text("Anna met Bram\n" + " ".join(["Anna Holm visited Valmora ."] * 20_000) + "\nBram\n")
    result = run_subprocess("tag", models["tag"], source, timeout=120)
    assert result.code == 0, result.err
    lines = result.out.split("\n")
    assert len(lines) == 4 and len(lines[1].split()) == 100_000
    assert "1 sentence(s) longer than 256 tokens were tagged in pieces" in result.err
    classified = run_subprocess("classify", models["cls"], source, "--max-input-tokens", "50", timeout=120)
    assert classified.code == 0 and len(classified.out.split("\n")) == 4
    assert "text(s) longer than 50 tokens were cut" in classified.err


# ---- 6. tiny texts train; lengths are positive ----------------------------------------------
def test_a_text_shorter_than_one_window_trains_with_a_note(cli, tmp_path):
    tiny = tmp_path / "tiny.txt"
    tiny.write_text("to be or not to be\n")
    result = cli("train", "lm", "--train", tiny, "--valid", tiny, "--out", tmp_path / "run", "--max-steps", "2",
                 "--hidden", "16", "--embed", "8", "--batch-size", "4")
    assert result.code == 0, result.err
    assert "windows shrink from --seq-len 128 to 19" in result.err
    for bad in ("0", "-3"):
        one_line_exit_2(cli(*lm_args(tiny, tmp_path / "x"), "--seq-len", bad), "--seq-len", "must be positive")


# ---- 8. a FIFO is read once -------------------------------------------------------------
def test_training_from_a_fifo_reads_it_once(tmp_path):
    fifo = tmp_path / "text.fifo"
    os.mkfifo(fifo)
    text = (DATA / "lm/valid.txt").read_text()

    def feed():
        with open(fifo, "w") as handle:
            handle.write(text)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = run_subprocess(*lm_args(fifo, tmp_path / "run"), timeout=60)
    assert result.code == 0, result.err
    saved = json.loads((tmp_path / "run" / "config.json").read_text())["data"]["train"]
    assert saved["size"] == len(text.encode())


# ---- 9-12. no silent wrong answers --------------------------------------------------------
def test_pred_and_gold_in_different_schemes_are_compared_as_entities(cli, tmp_path):
    from rnncli.schemes import convert

    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "B-ORG", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["O", "B-ORG", "B-ORG"]]                 # IOB2 predictions
    write_conll(tmp_path / "gold.conll", gold)
    write_conll(tmp_path / "pred.conll", [convert(s, "iob2", "iob1") for s in pred])   # written as IOB1
    write_conll(tmp_path / "same.conll", pred)
    mixed = json.loads(cli("eval", "--pred", tmp_path / "pred.conll", "--gold", tmp_path / "gold.conll", "--json").out)
    same = json.loads(cli("eval", "--pred", tmp_path / "same.conll", "--gold", tmp_path / "gold.conll", "--json").out)
    assert mixed["f1"] == pytest.approx(same["f1"]) and mixed["converted"] == f"pred iob1 -> iob2"


def write_conll(path: Path, sentences: list[list[str]]) -> None:
    path.write_text("\n".join("\n".join(f"w{i} {t}" for i, t in enumerate(tags)) + "\n" for tags in sentences))


def test_the_same_hypothesis_twice_is_refused_not_compared_with_itself(cli, tmp_path):
    """Several --hyp files are a paired comparison (tests/test_significance.py); one file
    given twice is a mistake, named before anything is scored."""
    (tmp_path / "a").write_text("x\n")
    one_line_exit_2(cli("eval", "--hyp", tmp_path / "a", "--hyp", tmp_path / "a", "--ref", tmp_path / "a"),
                    "given twice")


def test_training_tags_that_mix_schemes_name_the_line(cli, tmp_path):
    mixed = tmp_path / "mixed.conll"
    mixed.write_text("Anna S-PER\nran O\n\nBram B-PER\nHolm E-PER\n\nValmora I-LOC\n")
    one_line_exit_2(cli("train", "tag", "--train", mixed, "--valid", mixed, "--out", tmp_path / "o",
                        "--max-steps", "1"), f"{mixed}:7")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_threshold_that_cannot_fail_is_refused(cli, trained_lm, value):
    one_line_exit_2(cli("eval", trained_lm, DATA / "lm/valid.txt", "--fail-under", f"nats_per_char={value}"))


# ---- 13-15. nonsense options and damaged checkpoints are exit 2 ---------------------------
@pytest.mark.parametrize("args, needle", [
    (["generate", "LM", "--temperature", "inf"], "--temperature inf must be a finite number"),
    (["generate", "LM", "--top-p", "0"], "--top-p 0.0 must be in (0, 1]"),
    (["generate", "LM", "--seed", str(2 ** 70)], "--seed"),
    (["train", "tag", "--train", TAG_TRAIN, "--valid", TAG_VALID, "--out", "OUT", "--word-dropout", "2"],
     "--word-dropout 2.0 must be in [0, 1]"),
    (["train", "tag", "--train", TAG_TRAIN, "--valid", TAG_VALID, "--out", "OUT", "--word-column", "0"],
     "columns are numbered from 1"),
    (["tag", "TAG", TAG_VALID, "--input-format", "conll", "--word-column", "0"], "columns are numbered from 1"),
    (["train", "lm", "--train", DATA / "lm/valid.txt", "--out", "OUT", "--vocab-size", "1"], "--vocab-size 1"),
    (["train", "translate", *[x for k, v in MT.items() for x in ("--" + k.replace("_", "-"), v)], "--out", "OUT",
      "--max-len", "0"], "--max-len 0 must be positive"),
    (["train", "lm", "--train", DATA / "lm/valid.txt", "--out", "OUT", "--seed", "-1"], "--seed -1"),
])
def test_nonsense_options_are_exit_2(cli, trained_lm, models, tmp_path, args, needle):
    names = {"LM": trained_lm, "TAG": models["tag"], "OUT": tmp_path / "out"}
    result = cli(*[names.get(a, a) if isinstance(a, str) else a for a in args])
    one_line_exit_2(result, needle)
    assert not (tmp_path / "out").exists()


def test_binary_training_text_is_refused_with_its_line(cli, tmp_path):
    binary = tmp_path / "data.txt"
    binary.write_bytes(b"fine line\nanother\nbad \x00 here\n")
    one_line_exit_2(cli(*lm_args(binary, tmp_path / "out")), f"{binary}:3", "NUL byte")


@pytest.mark.parametrize("damage, needle", [
    (lambda c: {**c, "format": "2"}, "'format' is '2'"),
    (lambda c: {k: v for k, v in c.items() if k != "model"}, "has no model settings"),
    (lambda c: {**c, "model": {**c["model"], "hidden": "x"}}, "invalid model settings"),
    (lambda c: {**c, "task": "parse"}, "unknown task 'parse'"),
])
def test_damaged_checkpoints_are_exit_2(cli, trained_lm, tmp_path, damage, needle):
    broken = tmp_path / "broken"
    shutil.copytree(trained_lm, broken)
    config = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps(damage(config)))
    command = ["info", broken] if needle.startswith("unknown task") else ["eval", broken, DATA / "lm/valid.txt"]
    one_line_exit_2(cli(*command), needle)


def test_a_truncated_shortlist_is_exit_2(cli, models, tmp_path):
    broken = tmp_path / "mt"
    shutil.copytree(models["mt"], broken)
    data = (broken / "shortlist.safetensors").read_bytes()
    (broken / "shortlist.safetensors").write_bytes(data[: len(data) // 2])
    one_line_exit_2(cli("translate", broken, DATA / "translate/test.en", "--shortlist"), "corrupt shortlist")


# ---- 16-18. what used to be internal errors -------------------------------------------------
def test_a_length_limit_that_drops_every_pair_leaves_nothing_behind(cli, tmp_path):
    args = [x for k, v in MT.items() for x in ("--" + k.replace("_", "-"), v)]
    one_line_exit_2(cli("train", "translate", *args, "--out", tmp_path / "mt", "--max-len", "2", "--vocab-size", "300"),
                    "every training pair is longer than --max-len 2")
    assert not (tmp_path / "mt").exists()


@pytest.mark.parametrize("command", ["classify", "tag", "translate"])
def test_unreadable_input_is_exit_2(cli, models, tmp_path, command):
    checkpoint = models[{"translate": "mt", "classify": "cls", "tag": "tag"}[command]]
    one_line_exit_2(cli(command, checkpoint, tmp_path), "is a directory")


def test_an_output_directory_is_exit_2(cli, models, tmp_path):
    one_line_exit_2(cli("translate", models["mt"], DATA / "translate/test.en", "-o", tmp_path), "is a directory")


# ---- 19. a closed pipe ends every command the same way ------------------------------------
@pytest.mark.parametrize("command", ["classify", "tag", "translate", "generate"])
def test_a_closed_pipe_exits_0_quietly(models, trained_lm, tmp_path, command):
    many = tmp_path / "many.txt"
    many.write_text("The dog sees Anna .\n" * 3000)
    checkpoint = {"generate": trained_lm, "translate": models["mt"], "classify": models["cls"], "tag": models["tag"]}[command]
    args = [str(checkpoint), "--prompt", "-", "--max-tokens", "5"] if command == "generate" else [str(checkpoint), str(many)]
    shell = f"{sys.executable} -m rnncli {command} {' '.join(args)} {'< ' + str(many) if command == 'generate' else ''}" \
            f" 2>{tmp_path / 'err'} | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}"
    proc = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.stdout.strip() == "0", (tmp_path / "err").read_text()
    assert (tmp_path / "err").read_text() == ""


# ---- 20. classify reads every format training reads ---------------------------------------
def test_classify_reads_csv_and_fasttext(cli, models, tmp_path):
    csv_input = tmp_path / "in.csv"
    csv_input.write_text('id,text\n1,"what a cheap, weak hotel"\n2,the soup is fine\n')
    csv_out = cli("classify", models["cls"], csv_input, "--input-format", "csv")
    assert csv_out.code == 0, csv_out.err
    rows = csv_out.out.splitlines()
    assert rows[0] == "id,text,predicted,probability" and rows[1].startswith('1,"what a cheap, weak hotel",')
    fasttext = cli("classify", models["cls"], DATA / "classify/valid.ft", "--input-format", "fasttext")
    assert fasttext.code == 0 and len(fasttext.out.splitlines()) == len((DATA / "classify/valid.ft").read_text().splitlines())


# ---- 21. resume compares data by content, and opens only what it is given ------------------
def test_resume_compares_files_not_path_strings(cli, tmp_path, monkeypatch):
    text = tmp_path / "text.txt"
    shutil.copy(DATA / "lm/valid.txt", text)
    out = tmp_path / "run"
    monkeypatch.chdir(tmp_path)
    base = ["--valid", "text.txt", *TINY_LM]
    assert cli("train", "lm", "--train", "text.txt", "--out", "run", "--max-steps", "2", *base).code == 0
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    resumed = cli("train", "lm", "--train", text, "--valid", "../text.txt", "--out", out, "--max-steps", "4",
                  "--resume", *TINY_LM)
    assert resumed.code == 0, resumed.err
    one_line_exit_2(cli("train", "lm", "--train", text, "--out", out, "--max-steps", "6", "--resume", *TINY_LM),
                    "--valid: this run was trained with", "give it again")
