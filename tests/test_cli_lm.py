"""`rnncli train lm`, `generate`, `eval`, `info` end to end through the real CLI."""

import json
import math
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, TINY_LM, run_subprocess
from rnncli.checkpoint import load_trainer_state, read_metrics


def test_train_writes_a_complete_checkpoint(trained_lm):
    names = {p.name for p in trained_lm.iterdir()}
    assert {"config.json", "model.safetensors", "trainer_state.pt", "metrics.jsonl", "tokenizer"} <= names
    config = json.loads((trained_lm / "config.json").read_text())
    assert config["task"] == "lm" and config["progress"]["steps"] == 40
    assert config["data"]["train"]["sha256"] and config["tokenizer"]["kind"] == "char"
    records = read_metrics(trained_lm)
    assert [r["step"] for r in records] == [20, 40]
    assert not any(p.name.endswith(".tmp") for p in trained_lm.iterdir())


def test_eval_json_matches_training_figure(cli, trained_lm, tmp_path):
    valid = trained_lm.parent / "valid.txt"
    result = cli("eval", trained_lm, valid, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert set(report) >= {"perplexity", "nats_per_token", "nats_per_char", "bits_per_char"}
    best = json.loads((trained_lm / "config.json").read_text())["progress"]["best"]
    assert report["nats_per_char"] == pytest.approx(best["value"], rel=1e-6)
    assert report["bits_per_char"] == pytest.approx(report["nats_per_char"] / math.log(2))
    assert report["perplexity"] == pytest.approx(math.exp(report["nats_per_token"]))
    table = cli("eval", trained_lm, valid)
    assert "nats_per_char" in table.out and table.code == 0


def test_fail_under_gates_eval(cli, trained_lm):
    valid = trained_lm.parent / "valid.txt"
    assert cli("eval", trained_lm, valid, "--json", "--fail-under", "nats_per_char=100").code == 0
    low = cli("eval", trained_lm, valid, "--json", "--fail-under", "nats_per_char=0.01")
    assert low.code == 3 and "--fail-under not met" in low.err
    unknown = cli("eval", trained_lm, valid, "--fail-under", "bleu=1")
    assert unknown.code == 2 and "no such metric" in unknown.err


def test_generate_same_seed_same_text(cli, trained_lm):
    first = cli("generate", trained_lm, "--prompt", "Ada ", "--max-tokens", "40", "--seed", "7")
    second = cli("generate", trained_lm, "--prompt", "Ada ", "--max-tokens", "40", "--seed", "7")
    other = cli("generate", trained_lm, "--prompt", "Ada ", "--max-tokens", "40", "--seed", "8")
    assert first.code == 0 and first.out == second.out != other.out
    assert first.out.startswith("Ada ") and len(first.out) > 20


def test_generate_from_stdin_one_line_per_prompt(trained_lm):
    prompts = "Ada\nThe \n\nBram went"
    result = run_subprocess("generate", trained_lm, "--prompt", "-", "--max-tokens", "30", "--seed", "1",
                            input=prompts)
    assert result.code == 0, result.err
    lines = result.out.split("\n")[:-1]
    assert len(lines) == 4
    for prompt, line in zip(prompts.split("\n"), lines):
        assert line.startswith(prompt)


def test_generate_jsonl_records_the_seed_that_reproduces_each_sample(cli, trained_lm):
    text = cli("generate", trained_lm, "--prompt", "Ada ", "--max-tokens", "25", "--seed", "5")
    jsonl = cli("generate", trained_lm, "--prompt", "Ada ", "--max-tokens", "25", "--seed", "5",
                "--num-samples", "2", "--output-format", "jsonl")
    assert jsonl.code == 0, jsonl.err
    records = [json.loads(line) for line in jsonl.out.splitlines()]
    assert [r["sample"] for r in records] == [1, 2] and all(r["seed"] == 5 and r["tokens"] == 25 for r in records)
    assert records[0]["prompt"] + records[0]["text"] + "\n" == text.out   # the same first sample
    unseeded = json.loads(cli("generate", trained_lm, "--prompt", "Ada ", "--max-tokens", "25",
                              "--output-format", "jsonl").out)
    again = json.loads(cli("generate", trained_lm, "--prompt", "Ada ", "--max-tokens", "25",
                           "--output-format", "jsonl", "--seed", str(unseeded["seed"])).out)
    assert again == unseeded
    assert cli("generate", trained_lm, "--output-format", "xml").code == 2


def test_generate_jsonl_from_stdin_numbers_lines_and_samples(trained_lm):
    result = run_subprocess("generate", trained_lm, "--prompt", "-", "--max-tokens", "20", "--seed", "3",
                            "--num-samples", "2", "--output-format", "jsonl", input="Ada\n\nThe cat")
    assert result.code == 0, result.err
    records = [json.loads(line) for line in result.out.splitlines()]
    assert [(r["line"], r["sample"], r["prompt"]) for r in records] == [
        (1, 1, "Ada"), (1, 2, "Ada"), (2, 1, ""), (2, 2, ""), (3, 1, "The cat"), (3, 2, "The cat")]
    assert all("\n" not in r["text"] and r["seed"] == 3 for r in records)


def test_generate_greedy_top_k_top_p_and_samples(cli, trained_lm):
    greedy = cli("generate", trained_lm, "--prompt", "The", "--temperature", "0", "--max-tokens", "20")
    again = cli("generate", trained_lm, "--prompt", "The", "--temperature", "0", "--max-tokens", "20", "--seed", "9")
    assert greedy.out == again.out
    two = cli("generate", trained_lm, "--num-samples", "2", "--top-k", "5", "--top-p", "0.9",
              "--max-tokens", "20", "--seed", "1")
    assert two.code == 0 and two.out.count("\n\n") >= 1


def test_info_reports_the_checkpoint(cli, trained_lm):
    result = cli("info", trained_lm, "--json")
    info = json.loads(result.out)
    assert info["task"] == "lm" and info["steps"] == 40
    assert info["parameters"] == sum(t.numel() for t in load_trainer_state(trained_lm)["model"].values())
    assert info["tokenizer"]["kind"] == "char" and info["tokenizer"]["vocab_size"] > 20
    assert info["data"]["train"]["size"] > 0 and len(info["data"]["train"]["sha256"]) == 64
    assert info["best"]["metric"] == "nats_per_char"
    assert info["running"]["torch"] == torch.__version__
    assert "parameters" in cli("info", trained_lm).out


def test_holdout_when_no_valid_and_refuse_overwrite(cli, lm_text, tmp_path):
    train, _ = lm_text
    out = tmp_path / "ck"
    args = ["train", "lm", "--train", train, "--out", out, "--max-steps", "3", *TINY_LM]
    result = cli(*args[:-1])  # without --quiet: the hold-out is announced on stderr
    assert result.code == 0 and "holding out the last" in result.err and result.out == ""
    again = cli(*args)
    assert again.code == 2 and "already holds a checkpoint" in again.err


@pytest.mark.parametrize("args, message", [
    (["--train", "MISSING"], "no such file"),
    (["--train", "BAD"], ":2: invalid UTF-8"),
    (["--train", "EMPTY"], "file is empty"),
    (["--train", "GOOD", "--cell", "transformer"], "--cell 'transformer' is not one of"),
    (["--train", "GOOD", "--lr", "-1"], "--lr -1.0 must be positive"),
    (["--train", "GOOD", "--bidirectional"], "reads left to right"),
    (["--train", "GOOD", "--device", "cuda"] if not torch.cuda.is_available() else ["--train", "GOOD", "--device", "tpu"],
     "--device"),
])
def test_bad_input_is_one_line_exit_2(cli, tmp_path, args, message):
    files = {"MISSING": tmp_path / "missing.txt", "BAD": tmp_path / "bad.txt",
             "EMPTY": tmp_path / "empty.txt", "GOOD": tmp_path / "good.txt"}
    files["BAD"].write_bytes(b"ok\nnot \xc3\x28 ok\n")
    files["EMPTY"].write_text("")
    files["GOOD"].write_text("hello world\n" * 50)
    args = [str(files.get(a, a)) for a in args]
    result = cli("train", "lm", *args, "--out", tmp_path / "out", "--max-steps", "2", *TINY_LM)
    assert result.code == 2, result.err
    assert message in result.err and result.err.count("\n") == 1 and "Traceback" not in result.err
    assert not (tmp_path / "out" / "config.json").exists()


def test_bad_checkpoint_and_usage_errors(cli, tmp_path, trained_lm):
    assert cli("generate", tmp_path).code == 2
    result = cli("eval", trained_lm)
    assert result.code == 2 and "one text file" in result.err
    assert cli("eval").code == 2
    assert cli("generate", trained_lm, "--top-p", "3").code == 2


def test_stdout_stderr_separation_and_no_traceback(trained_lm, tmp_path):
    result = run_subprocess("eval", trained_lm, trained_lm.parent / "valid.txt", "--json")
    assert result.code == 0 and json.loads(result.out)["chars"] > 0 and result.err == ""
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"task": "lm"}')
    result = run_subprocess("generate", broken, "--max-tokens", "2")
    assert result.code == 2 and result.out == "" and "Traceback" not in result.err
    debug = run_subprocess("generate", broken, "--max-tokens", "2", "--debug")
    assert debug.code == 2 and "Traceback" in debug.err


def test_help_is_fast_and_lists_commands():
    start = time.monotonic()
    result = run_subprocess("--help")
    assert result.code == 0 and "train" in result.out and "generate" in result.out
    assert time.monotonic() - start < 5
    probe = subprocess.run([sys.executable, "-c", "import sys, rnncli.cli.app; print('torch' in sys.modules)"],
                           capture_output=True, text=True, cwd=ROOT)
    assert probe.stdout.strip() == "False"  # heavy imports stay inside commands


def test_sigterm_saves_exits_143_and_resume_matches_uninterrupted(lm_text, tmp_path):
    train, valid = lm_text
    common = ["train", "lm", "--train", train, "--valid", valid, "--max-steps", "400", "--eval-every", "150",
              "--seed", "5", *TINY_LM]
    reference = run_subprocess(*common, "--out", tmp_path / "whole", timeout=300)
    assert reference.code == 0, reference.err

    out = tmp_path / "parted"
    proc = subprocess.Popen([sys.executable, "-m", "rnncli", *map(str, common), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not (out / "config.json").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "stopped by signal" in err and "--resume" in err
    stopped_at = load_trainer_state(out)["loop"]["step"]
    assert 0 < stopped_at < 400

    resumed = run_subprocess(*common, "--out", out, "--resume", timeout=300)
    assert resumed.code == 0, resumed.err
    expected, got = load_trainer_state(tmp_path / "whole"), load_trainer_state(out)
    assert got["loop"]["step"] == 400
    for key, tensor in expected["model"].items():
        assert torch.equal(tensor, got["model"][key]), key
    assert read_metrics(tmp_path / "whole") == [
        {**r, "elapsed": w["elapsed"]} for r, w in zip(read_metrics(out), read_metrics(tmp_path / "whole"))]


def test_resume_refuses_changed_settings(cli, lm_text, tmp_path):
    train, valid = lm_text
    out = tmp_path / "ck"
    base = ["train", "lm", "--train", train, "--valid", valid, "--out", out, *TINY_LM]
    assert cli(*base, "--max-steps", "2").code == 0
    changed = cli(*base, "--max-steps", "4", "--resume", "--hidden", "64")
    assert changed.code == 2 and "--hidden" in changed.err
    assert cli(*base, "--max-steps", "4", "--resume").code == 0
    assert json.loads((out / "config.json").read_text())["progress"]["steps"] == 4
    nothing = cli("train", "lm", "--train", train, "--out", tmp_path / "none", "--resume", *TINY_LM)
    assert nothing.code == 2 and "nothing to resume" in nothing.err
