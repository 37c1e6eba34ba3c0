"""`rnncli train classify`, `rnncli classify` and `rnncli eval` end to end through the CLI."""

from __future__ import annotations

import json

import pytest

from conftest import DATA, run_subprocess

SAMPLES = DATA / "classify"
TINY = ["--hidden", "24", "--embed", "24", "--vocab-size", "300", "--batch-size", "16", "--lr", "0.01",
        "--warmup", "0", "--quiet"]


@pytest.fixture(scope="session")
def classifier(tmp_path_factory):
    """One tiny classifier trained on the samples (default unigram tokenizer), shared."""
    from rnncli.cli.app import run

    out = tmp_path_factory.mktemp("classify") / "ckpt"
    code = run(["train", "classify", "--train", str(SAMPLES / "train.tsv"), "--valid", str(SAMPLES / "valid.tsv"),
                "--out", str(out), "--epochs", "3", "--seed", "2", *TINY], False)
    assert code == 0
    return out


def test_train_writes_a_self_describing_checkpoint(classifier):
    config = json.loads((classifier / "config.json").read_text())
    assert config["task"] == "classify"
    assert config["labels"] == ["negative", "neutral", "positive"]
    assert config["model"]["pooling"] == "max" and config["model"]["bidirectional"] is True
    assert config["tokenizer"]["kind"] == "unigram"
    assert config["progress"]["best"]["metric"] == "accuracy"
    assert (classifier / "model.safetensors").is_file() and (classifier / "tokenizer").is_dir()
    records = [json.loads(line) for line in (classifier / "metrics.jsonl").read_text().splitlines()]
    assert {"accuracy", "macro_f1"} <= set(records[-1])


@pytest.mark.parametrize("train, valid, extra", [
    ("train.jsonl", "valid.jsonl", ["--pooling", "attention", "--class-weights", "balanced", "--metric", "macro_f1"]),
    ("train.ft", "valid.ft", ["--pooling", "last", "--cell", "gru", "--tokenizer", "word"]),
])
def test_train_other_formats_and_options(cli, tmp_path, train, valid, extra):
    out = tmp_path / "ckpt"
    result = cli("train", "classify", "--train", SAMPLES / train, "--valid", SAMPLES / valid, "--out", out,
                 "--max-steps", "6", "--eval-every", "3", *TINY, *extra, "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    expected_metric = "macro_f1" if "--metric" in extra else "accuracy"
    assert summary["steps"] == 6 and summary["metric"] == expected_metric
    config = json.loads((out / "config.json").read_text())
    if "balanced" in extra:
        assert len(config["class_weights"]) == 3 and config["class_weights"][1] > config["class_weights"][0]


def test_classify_one_line_per_input_line_in_order(cli, classifier, tmp_path):
    lines = ["what a wonderful film", "", "the soup was really awful", "   ", "i loved this book"]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cli("classify", classifier, source, "--batch-size", "2")
    assert result.code == 0, result.err
    out = result.out.split("\n")
    assert out[-1] == "" and len(out) - 1 == len(lines)
    assert out[1] == "" and out[3] == ""
    for row in (out[0], out[2], out[4]):
        label, prob = row.split("\t")
        assert label in ("negative", "neutral", "positive") and 0.0 <= float(prob) <= 1.0
    # order: each line classified alone gives the same answer as inside the batch
    for index in (0, 2, 4):
        alone = tmp_path / f"one{index}.txt"
        alone.write_text(lines[index] + "\n", encoding="utf-8")
        assert cli("classify", classifier, alone).out == out[index] + "\n"


def test_classify_tsv_and_jsonl_pass_fields_through(cli, classifier, tmp_path):
    source = tmp_path / "in.tsv"
    source.write_text("id\ttext\n7\twhat a lovely song\n\n9\tthe plot was dull\n", encoding="utf-8")
    result = cli("classify", classifier, source, "--input-format", "tsv")
    assert result.code == 0, result.err
    rows = result.out.splitlines()
    assert rows[0] == "id\ttext\tpredicted\tprobability"
    assert rows[1].startswith("7\twhat a lovely song\t") and rows[2] == "" and rows[3].startswith("9\t")
    as_json = cli("classify", classifier, source, "--input-format", "tsv", "--output-format", "jsonl", "--top-k", "2")
    records = [json.loads(line) if line else None for line in as_json.out.splitlines()]
    assert records[0]["id"] == "7" and records[1] is None and records[2]["id"] == "9"
    assert len(records[0]["top_k"]) == 2 and records[0]["top_k"][0]["label"] == records[0]["predicted"]
    jsonl = cli("classify", classifier, SAMPLES / "valid.jsonl", "--input-format", "jsonl", "-o", tmp_path / "out.jsonl")
    assert jsonl.code == 0 and jsonl.out == ""
    written = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["id"] for r in written] == [f"valid-{i}" for i in range(1, 201)]
    assert all(r["label"] in ("negative", "neutral", "positive") for r in written)   # gold kept beside it


def test_classify_through_a_pipe_keeps_streams_apart(classifier):
    text = (SAMPLES / "unlabelled.txt").read_text(encoding="utf-8")
    result = run_subprocess("classify", classifier, "-", "--quiet", input=text)
    assert result.code == 0 and result.err == ""
    assert len(result.out.splitlines()) == len(text.splitlines())
    assert result.out.splitlines()[5] == ""


def test_eval_report_json_and_table(cli, classifier):
    result = cli("eval", classifier, SAMPLES / "valid.tsv", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert set(report) >= {"accuracy", "macro_f1", "micro_f1", "per_class", "confusion_matrix"}
    assert 0.0 <= report["accuracy"] <= 1.0
    matrix = report["confusion_matrix"]
    assert sum(map(sum, matrix["rows"])) == report["examples"] == 200
    assert report["per_class"]["neutral"]["support"] == sum(matrix["rows"][1])
    table = cli("eval", classifier, SAMPLES / "valid.ft")
    assert "confusion matrix" in table.out and "per class" in table.out and "neutral" in table.out


def test_eval_reads_an_unnamed_format_as_the_training_data(cli, classifier, tmp_path):
    unnamed = tmp_path / "valid.data"
    unnamed.write_bytes((SAMPLES / "valid.tsv").read_bytes())   # trained on TSV: read as TSV
    result = cli("eval", classifier, unnamed, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["examples"] == 200


def test_eval_fail_under_exit_codes(cli, classifier):
    accuracy = json.loads(cli("eval", classifier, SAMPLES / "valid.tsv", "--json").out)["accuracy"]
    met = cli("eval", classifier, SAMPLES / "valid.tsv", "--fail-under", f"accuracy={accuracy - 0.01:.4f}")
    assert met.code == 0
    below = cli("eval", classifier, SAMPLES / "valid.tsv", "--json", "--fail-under", f"accuracy={accuracy + 0.01:.4f}")
    assert below.code == 3 and "--fail-under not met: accuracy" in below.err
    assert json.loads(below.out)["accuracy"] == accuracy          # the report is still printed
    unknown = cli("eval", classifier, SAMPLES / "valid.tsv", "--fail-under", "bleu=10")
    assert unknown.code == 2 and "no such metric" in unknown.err and "macro_f1" in unknown.err
    piped = run_subprocess("eval", classifier, SAMPLES / "valid.tsv", "--fail-under", "accuracy=1.5")
    assert piped.code == 3 and piped.err.startswith("rnncli: error: --fail-under not met")


def test_bad_data_is_one_line_with_file_and_line(cli, tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("text\tlabel\nfine\tpositive\nbroken row\n", encoding="utf-8")
    result = cli("train", "classify", "--train", bad, "--valid", SAMPLES / "valid.tsv", "--out", tmp_path / "o", *TINY)
    assert result.code == 2
    assert result.err.strip() == f"rnncli: error: {bad}:3: expected 2 tab-separated fields (as in the header), found 1"
    assert not (tmp_path / "o").exists()


def test_unseen_validation_labels(cli, tmp_path):
    valid = tmp_path / "valid.tsv"
    valid.write_text("text\tlabel\nok film\tpositive\nodd one\tsarcastic\n", encoding="utf-8")
    args = ["train", "classify", "--train", SAMPLES / "train.tsv", "--valid", valid, *TINY, "--max-steps", "2"]
    refused = cli(*args, "--out", tmp_path / "a")
    assert refused.code == 2 and f"{valid}:3: label 'sarcastic' never occurs" in refused.err
    assert "--allow-unseen-labels" in refused.err
    allowed = cli(*args, "--out", tmp_path / "b", "--allow-unseen-labels")
    assert allowed.code == 0, allowed.err
    logged = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1]["accuracy"] <= 0.5                          # the unseen example always counts wrong
    report = json.loads(cli("eval", tmp_path / "b", valid, "--json").out)
    assert report["unseen_labels"] == ["sarcastic"] and report["per_class"]["sarcastic"]["recall"] == 0.0


def test_classify_rejects_a_bad_checkpoint_and_options(cli, classifier, tmp_path):
    missing = cli("classify", tmp_path / "nope", SAMPLES / "unlabelled.txt")
    assert missing.code == 2 and "no such checkpoint" in missing.err
    wrong = cli("classify", classifier, SAMPLES / "unlabelled.txt", "--output-format", "xml")
    assert wrong.code == 2 and "--output-format 'xml'" in wrong.err
