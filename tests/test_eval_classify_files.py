"""`rnncli eval --pred PRED --gold GOLD` for classification output files (issue 14): golden
numbers by hand, every `rnncli classify` output format scored as the checkpoint eval scores
the same data, abstentions, paired comparisons, and bad input as one-line exit 2."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import rnncli
from conftest import DATA
from rnncli.metrics import significance as sig
from rnncli.metrics.classification import classification_report

SAMPLES = DATA / "classify"
VALID = SAMPLES / "valid.tsv"
GOLD_TAGS = DATA / "tag" / "valid.iob2.conll"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A tiny classifier, trained briefly so that it makes mistakes worth scoring."""
    out = tmp_path_factory.mktemp("clsfiles") / "cls"
    rnncli.train("classify", train=SAMPLES / "train.tsv", valid=VALID, out=out,
                 hidden=16, embed=16, vocab_size=200, max_steps=40, seed=3, quiet=True)
    return out


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def one_line_exit_2(result, *needles: str) -> None:
    assert result.code == 2, (result.code, result.out, result.err)
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    assert result.out == ""
    for needle in needles:
        assert needle in result.err, result.err


@pytest.fixture
def small(tmp_path):
    """Four gold examples and a prediction file with one abstention."""
    gold = write(tmp_path / "gold.tsv", "text\tlabel\na b\tpos\nc d\tneg\ne f\tpos\ng h\tneu\n")
    pred = write(tmp_path / "pred.txt", "pos\t0.9000\nneg\t0.8000\n?\t0.3000\npos\t0.6000\n")
    return gold, pred


# ---- golden numbers --------------------------------------------------------------------------
def test_scores_by_hand(cli, small):
    gold, pred = small
    result = cli("eval", "--pred", pred, "--gold", gold, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    # gold pos neg pos neu, predicted pos neg ? pos: 2 of 4 right, the abstention counted wrong
    assert report["accuracy"] == 0.5 and report["examples"] == 4
    assert report["per_class"]["pos"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert report["per_class"]["neg"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert report["per_class"]["neu"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert report["macro_f1"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert report["micro_precision"] == pytest.approx(2 / 3) and report["micro_recall"] == 0.5
    assert report["coverage"] == 0.75 and report["covered"] == 3 and report["abstained"] == 1
    assert report["covered_accuracy"] == pytest.approx(2 / 3)
    assert report["confusion_matrix"] == {"labels": ["neg", "neu", "pos"], "rows": [[1, 0, 0], [0, 0, 1], [0, 0, 1]],
                                          "abstained": [0, 0, 1]}
    assert report["pred_format"] == "text" and report["gold"] == str(gold)
    text = cli("eval", "--pred", pred, "--gold", gold)
    assert text.code == 0 and "accuracy 50.00" in text.out and "coverage 75.00%" in text.out


def test_abstentions_in_the_shared_report():
    """None predictions: in the total and their gold label's support, in no column."""
    report = classification_report([0, 1, 1, 0], [0, None, 1, None], ["a", "b"])
    assert report["accuracy"] == 0.5
    assert report["per_class"]["a"]["recall"] == 0.5 and report["per_class"]["a"]["precision"] == 1.0
    assert report["confusion_matrix"]["abstained"] == [1, 1]
    plain = classification_report([0, 1, 1], [0, 0, 1], ["a", "b"])
    assert "abstained" not in plain["confusion_matrix"]     # checkpoint reports keep their shape
    assert plain["micro_f1"] == plain["micro_precision"] == plain["accuracy"]


def test_resampled_macro_f1_is_the_reports():
    rng = random.Random(5)
    gold = [rng.randrange(4) for _ in range(60)]
    predicted = [None if rng.random() < 0.1 else (g if rng.random() < 0.6 else rng.randrange(4)) for g in gold]
    report = classification_report(gold, predicted, list("abcd"))
    summed = sig.label_statistics(gold, predicted, 4).sum(0)[None]
    assert sig.macro_f1_score(summed)[0] == pytest.approx(report["macro_f1"], abs=1e-12)
    accuracy = sig.mean_statistics([float(p == g) for p, g in zip(predicted, gold)]).sum(0)[None]
    assert sig.ratio_score(accuracy)[0] == pytest.approx(report["accuracy"], abs=1e-12)


# ---- round trips: classify to a file, score the file -----------------------------------------
@pytest.mark.parametrize("gold, input_format, output_format, extra", [
    (VALID, "tsv", "tsv", []),
    (VALID, "tsv", "jsonl", ["--top-k", "2"]),
    (VALID, "tsv", "text", []),
    (VALID, "tsv", "csv", []),
    (SAMPLES / "valid.jsonl", "jsonl", "jsonl", []),
    (SAMPLES / "valid.ft", "fasttext", "text", ["--top-k", "3"]),
])
def test_every_output_format_scores_as_the_checkpoint(cli, model, tmp_path, gold, input_format, output_format,
                                                      extra):
    out = tmp_path / f"pred.{output_format}"
    made = cli("classify", model, gold, "--input-format", input_format, "--output-format", output_format,
               "-o", out, *extra)
    assert made.code == 0, made.err
    files = cli("eval", "--pred", out, "--gold", gold, "--json")
    assert files.code == 0, files.err
    checkpoint = json.loads(cli("eval", model, gold, "--json").out)
    report = json.loads(files.out)
    for key in ("examples", "accuracy", "macro_f1", "macro_precision", "micro_f1", "per_class", "confusion_matrix"):
        assert report[key] == checkpoint[key], key
    # text output of a table keeps a `predicted probability` header, so it reads as a table
    read_as = "tsv" if (input_format, output_format) == ("tsv", "text") else output_format
    assert report["coverage"] == 1.0 and report["pred_format"] == read_as


def test_text_only_predictions_line_up_with_the_gold(cli, model, tmp_path):
    """Texts cut out of the gold, classified as plain lines: the n-th line is the n-th example."""
    texts = write(tmp_path / "texts.txt", "".join(line.split("\t")[0] + "\n"
                                                  for line in VALID.read_text().splitlines()[1:]))
    out = tmp_path / "labels.txt"
    assert cli("classify", model, texts, "-o", out).code == 0
    labels_only = write(tmp_path / "plain.txt", "".join(line.split("\t")[0] + "\n"
                                                        for line in out.read_text().splitlines()))
    checkpoint = json.loads(cli("eval", model, VALID, "--json").out)
    for pred in (out, labels_only):
        report = json.loads(cli("eval", "--pred", pred, "--gold", VALID, "--json").out)
        assert report["accuracy"] == checkpoint["accuracy"] and report["macro_f1"] == checkpoint["macro_f1"]


def test_min_prob_output_counts_abstentions_wrong(cli, model, tmp_path):
    records = [json.loads(line) for line in cli("classify", model, VALID, "--input-format", "tsv",
                                                 "--output-format", "jsonl").out.splitlines()]
    probabilities = sorted({r["probability"] for r in records})
    threshold = (probabilities[len(probabilities) // 2 - 1] + probabilities[len(probabilities) // 2]) / 2
    checkpoint = json.loads(cli("eval", model, VALID, "--min-prob", str(threshold), "--json").out)
    for fmt in ("tsv", "jsonl"):
        out = tmp_path / f"abstained.{fmt}"
        assert cli("classify", model, VALID, "--input-format", "tsv", "--output-format", fmt,
                   "--min-prob", str(threshold), "-o", out).code == 0
        report = json.loads(cli("eval", "--pred", out, "--gold", VALID, "--json").out)
        assert 0 < report["abstained"] < report["examples"]
        for key in ("coverage", "covered", "abstained", "covered_accuracy"):
            assert report[key] == pytest.approx(checkpoint[key]), key
        assert report["accuracy"] == pytest.approx(checkpoint["covered_accuracy"] * checkpoint["coverage"])
        assert report["accuracy"] < checkpoint["accuracy"] or checkpoint["covered_accuracy"] == 1.0


# ---- comparisons -----------------------------------------------------------------------------
def noisy_predictions(path: Path, rate: float, seed: int) -> Path:
    """The gold labels of VALID with a share replaced: a system of known quality."""
    rng = random.Random(seed)
    labels = ["negative", "neutral", "positive"]
    gold = [line.split("\t")[1] for line in VALID.read_text().splitlines()[1:]]
    return write(path, "".join(f"{g if rng.random() > rate else rng.choice(labels)}\t0.5000\n" for g in gold))


def test_comparison_json_fields_and_verdicts(cli, tmp_path):
    weak = noisy_predictions(tmp_path / "weak.txt", 0.6, 1)
    strong = noisy_predictions(tmp_path / "strong.txt", 0.1, 2)
    args = ("eval", "--pred", weak, "--pred", strong, "--gold", VALID, "--json", "--resamples", "300", "--seed", "7")
    result = cli(*args)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["task"] == "classify" and report["comparison"] is True and report["primary"] == "accuracy"
    assert report["baseline"] == str(weak) and report["resamples"] == 300 and report["seed"] == 7
    assert [c["metric"] for c in report["comparisons"]] == ["accuracy", "macro_f1"]
    for row in report["comparisons"]:
        scores = [s["scores"][row["metric"]] for s in report["systems"]]
        assert row["baseline_score"] == pytest.approx(scores[0]) and row["system_score"] == pytest.approx(scores[1])
        assert row["difference"] == pytest.approx(scores[1] - scores[0])
        assert row["ci"][0] <= row["difference"] <= row["ci"][1] and row["ci"][0] > 0
        assert row["verdict"] == "better" and 0 < row["p_value"] < 0.05
        assert row["signature"] == "test:paired_bs|resamples:300|seed:7|ci:95%"
    assert report["winner"]["macro_f1"] == {"system": str(strong), "significant": True}
    assert cli(*args).out == result.out                                 # the seed makes it reproducible
    other = json.loads(cli(*args[:-1], "8").out)
    assert other["comparisons"][0]["difference"] == report["comparisons"][0]["difference"]
    ar = json.loads(cli(*args, "--paired-test", "ar").out)
    assert ar["method"] == "paired_ar" and ar["comparisons"][0]["verdict"] == "better"


def test_identical_systems_and_the_table(cli, tmp_path):
    a = noisy_predictions(tmp_path / "a.txt", 0.3, 1)
    copy = write(tmp_path / "copy.txt", a.read_text())
    b = noisy_predictions(tmp_path / "b.txt", 0.3, 2)
    same = json.loads(cli("eval", "--pred", a, "--pred", copy, "--gold", VALID, "--json", "--resamples", "100").out)
    assert all(c["p_value"] == 1.0 and c["difference"] == 0 and c["verdict"] == "same" for c in same["comparisons"])
    table = cli("eval", "--pred", a, "--pred", b, "--pred", copy, "--gold", VALID, "--resamples", "100")
    assert table.code == 0, table.err
    assert "macro_f1" in table.out and "accuracy" in table.out and "★" in table.out and "resamples" in table.out


def test_python_api(tmp_path, small):
    from rnncli import api

    gold, pred = small
    assert api.evaluate_classifications(pred, gold)["accuracy"] == 0.5
    other = write(tmp_path / "other.txt", "pos\nneg\npos\nneu\n")
    report = api.compare_classifications([pred, other], gold, resamples=50, seed=3)
    assert report["systems"][1]["scores"]["accuracy"] == 1.0
    assert report == api.compare_classifications([pred, other], gold, resamples=50, seed=3)


# ---- telling classification data from CoNLL, and bad input -----------------------------------
def test_gold_kind_is_told_from_the_file(tmp_path):
    from rnncli.tasks.classify_files import gold_task

    assert gold_task(VALID) == "classify" and gold_task(SAMPLES / "valid.ft") == "classify"
    assert gold_task(GOLD_TAGS) == "tag"
    conll_tsv = write(tmp_path / "tags.tsv", "EU\tB-ORG\nrejects\tO\n\nPeter\tB-PER\n")
    assert gold_task(conll_tsv) == "tag" and gold_task(conll_tsv, "classify") == "classify"
    unnamed = write(tmp_path / "gold.txt", "id\tsentence\ttopic\n1\ta b\tx\n")
    assert gold_task(unnamed) == "tag" and gold_task(unnamed, label_field="topic") == "classify"


def test_a_classify_output_file_says_what_the_gold_is(cli, tmp_path):
    from rnncli.tasks.classify_files import gold_task

    gold = write(tmp_path / "gold.tsv", "text\ttopic\na b\tx\nc d\ty\n")
    records = write(tmp_path / "pred.jsonl", '{"predicted": "x"}\n{"predicted": null}\n')
    table = write(tmp_path / "pred.out", "text\tpredicted\tprobability\na b\tx\t0.9\nc d\tx\t0.8\n")
    plain = write(tmp_path / "pred.txt", "x\t0.9\ny\t0.8\n")
    assert gold_task(gold, pred=records) == gold_task(gold, pred=table) == "classify"
    assert gold_task(gold, pred=plain) == "tag"
    # read as tags, the CoNLL error says how to read it as classification data instead
    one_line_exit_2(cli("eval", "--pred", plain, "--gold", gold), f"{gold}:2:", "--label-field NAME")
    assert json.loads(cli("eval", "--pred", plain, "--gold", gold, "--label-field", "topic",
                          "--json").out)["accuracy"] == 1.0


def test_question_marks_and_reclassified_tables(cli, tmp_path):
    """`?` is an abstention unless the gold has that label; a table classified twice has two
    `predicted` columns and the newest (last) one counts."""
    gold = write(tmp_path / "gold.jsonl", '{"text": "a", "label": "?"}\n{"text": "b", "label": "y"}\n')
    pred = write(tmp_path / "pred.txt", "?\t0.9\n?\t0.8\n")
    report = json.loads(cli("eval", "--pred", pred, "--gold", gold, "--json").out)
    assert report["accuracy"] == 0.5 and report["abstained"] == 0
    twice = write(tmp_path / "twice.tsv", "text\tlabel\tpredicted\tprobability\tpredicted\tprobability\n"
                                          "a\t?\ty\t0.5\t?\t0.6\nb\ty\t?\t0.5\ty\t0.7\n")
    assert json.loads(cli("eval", "--pred", twice, "--gold", gold, "--json").out)["accuracy"] == 1.0


def test_unnamed_gold_with_custom_fields(cli, tmp_path):
    gold = write(tmp_path / "gold.data", "id\tsentence\ttopic\n1\ta b\tx\n2\tc d\ty\n")
    pred = write(tmp_path / "pred.txt", "x\t0.9\nx\t0.8\n")
    result = cli("eval", "--pred", pred, "--gold", gold, "--label-field", "topic", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["accuracy"] == 0.5
    forced = cli("eval", "--pred", pred, "--gold", gold, "--task", "classify", "--label-field", "topic", "--json")
    assert json.loads(forced.out)["accuracy"] == 0.5
    gated = cli("eval", "--pred", pred, "--gold", gold, "--label-field", "topic", "--fail-under", "accuracy=0.9")
    assert gated.code == 3


def test_bad_input_is_one_line_exit_2(cli, small, tmp_path):
    gold, pred = small
    long = write(tmp_path / "long.txt", pred.read_text() + "pos\t0.5\n")
    short = write(tmp_path / "short.txt", "pos\nneg\n")
    unknown = write(tmp_path / "unknown.txt", "pos\nneg\nmaybe\npos\n")
    no_key = write(tmp_path / "no_key.jsonl", '{"label": "pos"}\n' * 4)
    ragged = write(tmp_path / "ragged.tsv", "text\tpredicted\tprobability\na\tpos\t0.9\nb\tneg\n")
    one_line_exit_2(cli("eval", "--pred", long, "--gold", gold), f"{long}:5:", "prediction 5 has no example")
    one_line_exit_2(cli("eval", "--pred", short, "--gold", gold), f"{gold}:4:", "example 3 has no prediction")
    one_line_exit_2(cli("eval", "--pred", unknown, "--gold", gold), f"{unknown}:3:", "'maybe'", "neg, neu, pos")
    one_line_exit_2(cli("eval", "--pred", no_key, "--gold", gold), f"{no_key}:1:", '"predicted"')
    one_line_exit_2(cli("eval", "--pred", ragged, "--gold", gold), f"{ragged}:3:", "expected 3")
    one_line_exit_2(cli("eval", "--pred", pred, "--pred", long, "--gold", gold), f"{long}:5:")
    one_line_exit_2(cli("eval", "--pred", pred, "--gold", gold, "--task", "ner"), "--task 'ner'")
    one_line_exit_2(cli("eval", "--pred", pred, "--gold", gold, "--scheme", "iob2"), "--scheme")
    one_line_exit_2(cli("eval", "--pred", GOLD_TAGS, "--gold", GOLD_TAGS, "--label-field", "x"), "--label-field")
    one_line_exit_2(cli("eval", "--pred", pred, "--gold", write(tmp_path / "x.txt", "a b\n"), "--task", "classify"),
                    "not classification data")
    one_line_exit_2(cli("eval", "--pred", write(tmp_path / "blank.txt", "\n\n"), "--gold", gold), "blank.txt", "empty")


def test_tag_files_are_still_scored_as_tags(cli):
    result = cli("eval", "--pred", GOLD_TAGS, "--gold", GOLD_TAGS, "--json")
    assert result.code == 0 and json.loads(result.out)["f1"] == 1.0


def test_two_checkpoints_compare_on_one_labelled_file(cli, model, tmp_path):
    """`eval CKPT_A CKPT_B DATA` for classifiers: each checkpoint's labels are scored as
    its own `eval CKPT DATA` scores them, and compared with the files' resampler."""
    other = tmp_path / "other"
    rnncli.train("classify", train=SAMPLES / "train.tsv", valid=VALID, out=other,
                 hidden=16, embed=16, vocab_size=200, max_steps=10, seed=4, quiet=True)
    result = cli("eval", model, other, VALID, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert [s["name"] for s in report["systems"]] == [str(model), str(other)]
    for system, checkpoint in zip(report["systems"], (model, other)):
        alone = json.loads(cli("eval", checkpoint, VALID, "--json").out)
        assert system["scores"]["accuracy"] == pytest.approx(alone["accuracy"], abs=1e-12)
    assert {c["metric"] for c in report["comparisons"]} == {"accuracy", "macro_f1"}
    assert all(c["system"] == str(other) for c in report["comparisons"])
