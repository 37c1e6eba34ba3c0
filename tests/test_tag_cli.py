"""Every tagging command end to end through the real CLI: train tag, tag, eval CKPT,
eval --pred --gold; exit codes, stdout/stderr separation, file:line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DATA, run_subprocess

from rnncli.schemes import is_valid

TAG_DATA = DATA / "tag"
TRAIN, VALID = TAG_DATA / "train.iob1.conll", TAG_DATA / "valid.iob1.conll"
TINY_TAG = ["--hidden", "24", "--embed", "16", "--char-embed", "8", "--char-features", "16",
            "--batch-size", "16", "--lr", "0.01", "--warmup", "0", "--quiet"]


@pytest.fixture(scope="module")
def tagger(tmp_path_factory) -> Path:
    from rnncli.cli.app import run

    out = tmp_path_factory.mktemp("tag") / "ckpt"
    code = run(["train", "tag", "--train", str(TRAIN), "--valid", str(VALID), "--out", str(out),
                "--epochs", "6", "--seed", "2", *TINY_TAG], False)
    assert code == 0
    return out


def test_train_writes_a_checkpoint_that_learned(tagger, cli):
    config = json.loads((tagger / "config.json").read_text())
    assert config["task"] == "tag" and config["scheme"] == "iob1"
    assert config["model"]["labels"][0] == "O" and "S-PER" in config["model"]["labels"]
    assert (tagger / "model.safetensors").is_file() and (tagger / "tokenizer" / "words").is_dir()
    result = cli("eval", tagger, VALID, "--json")
    assert result.code == 0
    report = json.loads(result.out)
    assert report["f1"] > 0.5
    assert {"precision", "recall", "f1", "per_type", "invalid_transitions"} <= set(report)
    assert set(report["per_type"]) <= {"PER", "LOC", "ORG", "MISC"}
    assert "strict" in report["mode"]


def test_eval_table_and_fail_under(tagger, cli):
    result = cli("eval", tagger, VALID)
    assert result.code == 0
    assert "seqeval strict" in result.out and "per type" in result.out and "boundary" in result.out
    assert cli("eval", tagger, VALID, "--fail-under", "f1=1.01", "--json").code == 3


def test_tag_text_one_line_per_input_line(tagger, cli, tmp_path):
    text = tmp_path / "in.txt"
    text.write_text("Anna Holm said on Monday .\n\n  Police in   Valmora left .\n", encoding="utf-8")
    result = cli("tag", tagger, text)
    assert result.code == 0
    lines = result.out.split("\n")[:-1]
    assert len(lines) == 3 and lines[1] == ""
    words = [item.rsplit("/", 1) for item in lines[2].split()]
    assert [w for w, _ in words] == ["Police", "in", "Valmora", "left", "."]
    assert is_valid([t for _, t in words], "iob1")
    result = cli("tag", tagger, text, "--output-format", "jsonl")
    records = [json.loads(line) for line in result.out.splitlines()]
    assert len(records) == 3 and records[1] == {"tokens": [], "tags": [], "entities": []}
    for entity in records[2]["entities"]:
        line = "  Police in   Valmora left ."
        assert line[entity["char_start"]:entity["char_end"]] == entity["text"]
        assert 0 <= entity["score"] <= 1 and entity["end"] > entity["start"]


def test_tag_conll_keeps_columns_and_eval_pred_gold(tagger, cli, tmp_path):
    pred = tmp_path / "pred.conll"
    result = cli("tag", tagger, VALID, "--input-format", "conll", "-o", pred, "--output-scheme", "bioes")
    assert result.code == 0 and result.out == ""
    # every input line is kept, in order: token lines gain a column, -DOCSTART- an O
    out_lines, in_lines = pred.read_text().split("\n"), VALID.read_text().split("\n")
    assert len(out_lines) == len(in_lines)
    for out_line, in_line in zip(out_lines, in_lines):
        assert out_line.split()[:-1] == in_line.split() or out_line == in_line == ""
    assert in_lines[0].startswith("-DOCSTART-") and out_lines[0].split()[-1] == "O"
    assert all(line.split()[-1][0] in "OBIES" for line in out_lines if line)
    result = cli("eval", "--pred", pred, "--gold", VALID, "--json", "--scheme", "bioes")
    # the gold file's IOB1 tags read as BIOES are simply invalid there; the command still scores
    assert result.code == 0
    iob1 = tmp_path / "pred1.conll"
    assert cli("tag", tagger, VALID, "--input-format", "conll", "-o", iob1).code == 0
    file_report = json.loads(cli("eval", "--pred", iob1, "--gold", VALID, "--json").out)
    model_report = json.loads(cli("eval", tagger, VALID, "--json").out)
    assert file_report["f1"] == pytest.approx(model_report["f1"])
    assert file_report["invalid_transitions"] == 0


def test_eval_pred_gold_mismatch_names_the_sentence(cli, tmp_path):
    gold = tmp_path / "gold.conll"
    pred = tmp_path / "pred.conll"
    gold.write_text("a B-PER\nb O\n\nc O\n", encoding="utf-8")
    pred.write_text("a B-PER\nb O\n\nc O\nd O\n", encoding="utf-8")
    result = cli("eval", "--pred", pred, "--gold", gold)
    assert result.code == 2 and f"{pred}:4: sentence 2 has 2 tokens" in result.err


def test_train_rejects_malformed_data_with_file_and_line(cli, tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("a X O\nb Y O\n\nc O\n", encoding="utf-8")
    result = cli("train", "tag", "--train", bad, "--valid", VALID, "--out", tmp_path / "o", "--quiet")
    assert result.code == 2
    assert f"{bad}:4: expected 3 columns" in result.err and "found 2" in result.err
    assert "Traceback" not in result.err


def test_softmax_tagger_pos_scheme_embeddings_and_resume(cli, tmp_path):
    vectors = tmp_path / "vec.txt"
    vectors.write_text("2 16\nsaid " + " ".join(["0.5"] * 16) + "\npolice " + " ".join(["0.1"] * 16) + "\n")
    out = tmp_path / "softmax"
    args = ["train", "tag", "--train", TAG_DATA / "train.iob2.conll", "--valid", TAG_DATA / "valid.iob2.conll",
            "--out", out, "--no-crf", "--embeddings", vectors, "--max-steps", "3", "--seed", "1", *TINY_TAG]
    assert cli(*args).code == 0
    result = cli("train", "tag", "--train", TAG_DATA / "train.iob2.conll", "--valid",
                 TAG_DATA / "valid.iob2.conll", "--out", out, "--resume", "--max-steps", "6", "--json", "--quiet")
    assert result.code == 0 and json.loads(result.out)["steps"] == 6
    tagged = cli("tag", out, TAG_DATA / "sentences.txt").out.splitlines()
    assert len(tagged) == 20
    assert all(is_valid([w.rsplit("/", 1)[1] for w in line.split()], "iob2") for line in tagged)
    pos = tmp_path / "pos"   # the POS column as tags: no spans, per-token scores
    assert cli("train", "tag", "--train", TRAIN, "--valid", VALID, "--out", pos, "--tag-column", "2",
               "--max-steps", "2", *TINY_TAG).code == 0
    report = json.loads(cli("eval", pos, VALID, "--json").out)
    assert report["scheme"] == "none" and "NNP" in report["per_type"]


def test_subprocess_streams_and_exit_codes(tagger):
    result = run_subprocess("tag", tagger, "-", "--output-format", "conll",
                            input="Anna Holm left .\nNobody came\n")
    assert result.code == 0 and result.err == ""
    blocks = result.out.split("\n\n")
    assert [line.split()[0] for line in blocks[0].splitlines()] == ["Anna", "Holm", "left", "."]
    assert len(blocks[1].splitlines()) == 2
    result = run_subprocess("tag", tagger, "-", "--input-format", "conll", input="a b\nc\n")
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("rnncli: error: <stdin>:2: expected 2 columns")
