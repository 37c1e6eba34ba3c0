"""`classify --min-prob P` (abstention), coverage at P in the classifier's eval report, and
the reliability diagram of `eval --plot` (issue 14)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import rnncli
from conftest import DATA

SAMPLES = DATA / "classify"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("minprob") / "cls"
    rnncli.train("classify", train=SAMPLES / "train.tsv", valid=SAMPLES / "valid.tsv", out=out,
                 hidden=16, embed=16, vocab_size=200, max_steps=40, seed=3)
    return out


def plain_rows(text: str) -> list[list[str]]:
    return [line.split("\t") for line in text.splitlines()]


def middle_threshold(rows: list[list[str]]) -> float:
    """A threshold with predictions on both sides of it."""
    probabilities = sorted({float(row[1]) for row in rows if len(row) > 1})
    assert len(probabilities) > 2, "the tiny model should not be equally sure of everything"
    middle = len(probabilities) // 2
    return (probabilities[middle - 1] + probabilities[middle]) / 2


def one_line_exit_2(result, *needles: str) -> None:
    assert result.code == 2, (result.code, result.err)
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    for needle in needles:
        assert needle in result.err, result.err


def test_text_output_abstains_below_the_threshold_and_keeps_the_rest(cli, model):
    source = SAMPLES / "unlabelled.txt"
    plain = cli("classify", model, source, "--top-k", "2")
    assert plain.code == 0
    rows = plain_rows(plain.out)
    threshold = middle_threshold(rows)
    marked = cli("classify", model, source, "--top-k", "2", "--min-prob", str(threshold))
    assert marked.code == 0 and marked.err == ""
    marked_rows = plain_rows(marked.out)
    assert len(marked_rows) == len(rows) == len(source.read_text().splitlines())
    abstained = 0
    for before, after in zip(rows, marked_rows):
        if before == [""]:
            assert after == [""]                          # a blank line stays blank
            continue
        assert after[1:] == before[1:]                    # probability and the second label stay
        if float(before[1]) < threshold:
            abstained += 1
            assert after[0] == "?"
        else:
            assert after[0] == before[0]
    assert 0 < abstained < len(rows)
    # 0 abstains from nothing; 1 from everything not certain
    assert cli("classify", model, source, "--top-k", "2", "--min-prob", "0").out == plain.out
    assert all(row[0] in ("?", "") for row in plain_rows(cli("classify", model, source, "--min-prob", "1").out))


def test_jsonl_and_tsv_mark_abstentions_and_keep_probability_and_top_k(cli, model):
    source = SAMPLES / "valid.jsonl"
    result = cli("classify", model, source, "--input-format", "jsonl", "--output-format", "jsonl",
                 "--top-k", "2", "--min-prob", "1")
    assert result.code == 0
    records = [json.loads(line) for line in result.out.splitlines()]
    assert records and all(r["predicted"] is None for r in records)
    for record in records:
        assert 0 < record["probability"] < 1
        assert record["top_k"][0]["probability"] == record["probability"]
        assert record["top_k"][0]["label"] in ("negative", "positive")
        assert record["id"].startswith("valid-")                        # fields passed through
    tsv = cli("classify", model, SAMPLES / "valid.tsv", "--input-format", "tsv", "--min-prob", "1")
    header, *rows = plain_rows(tsv.out)
    assert header == ["text", "label", "predicted", "probability"]
    assert rows and all(row[2] == "?" and float(row[3]) < 1 for row in rows)


def test_bad_thresholds_are_one_line_exit_2(cli, model):
    source = SAMPLES / "unlabelled.txt"
    one_line_exit_2(cli("classify", model, source, "--min-prob", "1.5"), "--min-prob", "between 0 and 1")
    one_line_exit_2(cli("classify", model, source, "--min-prob", "-0.1"), "--min-prob")
    one_line_exit_2(cli("classify", model, source, "--min-prob", "nan"), "--min-prob")


def test_a_model_with_a_question_mark_label_cannot_abstain():
    from rnncli.errors import UsageError
    from rnncli.tasks.classify_output import check_min_prob

    check_min_prob(None, ["?", "a"])
    check_min_prob(0.5, ["a", "b"])
    with pytest.raises(UsageError, match="label '\\?'"):
        check_min_prob(0.5, ["?", "a"])


def test_continue_refuses_a_changed_min_prob(cli, model, tmp_path, monkeypatch):
    from rnncli.cli.classify import ClassifyWork

    text = (SAMPLES / "unlabelled.txt").read_text().splitlines()
    source = tmp_path / "in.txt"
    source.write_text("\n".join((text * (600 // len(text) + 1))[:600]) + "\n")
    args = ["classify", model, source, "--batch-size", "16", "--min-prob", "0.6"]   # chunks of 256 lines
    whole = cli(*args).out
    out = tmp_path / "out.txt"
    original, calls = ClassifyWork.render, []

    def stop_second(self, items):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("stopped by the test")
        return original(self, items)

    monkeypatch.setattr(ClassifyWork, "render", stop_second)
    assert cli(*args, "-o", out).code == 130
    monkeypatch.undo()
    record = json.loads(out.with_name("out.txt.partial.json").read_text())
    assert record["settings"]["min_prob"] == 0.6
    one_line_exit_2(cli(*args[:-1], "0.7", "-o", out, "--continue"), "other settings", "min_prob")
    one_line_exit_2(cli(*args[:-2], "-o", out, "--continue"), "other settings", "min_prob")
    assert cli(*args, "-o", out, "--continue").code == 0
    assert out.read_text() == whole


def test_abstention_report_by_hand():
    from rnncli.tasks.classify import abstention_report

    confidences = [0.9, 0.55, 0.7, 0.4, 0.7]
    correct = [True, False, False, True, True]
    report = abstention_report(confidences, correct, 0.7)       # 0.7 itself is covered
    assert report == {"min_prob": 0.7, "coverage": 0.6, "covered": 3, "abstained": 2,
                      "covered_accuracy": pytest.approx(2 / 3)}
    nothing = abstention_report(confidences, correct, 0.95)
    assert nothing["coverage"] == 0.0 and nothing["covered_accuracy"] is None and nothing["abstained"] == 5


def test_eval_reports_coverage_and_covered_accuracy(cli, model):
    from rnncli.api import evaluate

    valid = SAMPLES / "valid.tsv"
    plain = evaluate(model, [valid], "cpu")
    assert "coverage" not in plain and "min_prob" not in plain
    everything = evaluate(model, [valid], "cpu", min_prob=0.0)
    assert everything["coverage"] == 1.0 and everything["abstained"] == 0
    assert everything["covered_accuracy"] == pytest.approx(plain["accuracy"])
    # the same split as classify's output on the same texts
    out = cli("classify", model, valid, "--input-format", "tsv", "--output-format", "jsonl")
    records = [json.loads(line) for line in out.out.splitlines()]
    threshold = middle_threshold([[r["predicted"], str(r["probability"])] for r in records])
    report = evaluate(model, [valid], "cpu", min_prob=threshold)
    kept = [r for r in records if r["probability"] >= threshold]
    assert report["covered"] == len(kept) and report["abstained"] == len(records) - len(kept)
    assert report["coverage"] == pytest.approx(len(kept) / len(records))
    hits = sum(r["predicted"] == r["label"] for r in kept)
    assert report["covered_accuracy"] == pytest.approx(hits / len(kept))
    assert report["accuracy"] == plain["accuracy"] and report["ece"] == plain["ece"]   # the rest unchanged
    from rnncli.errors import UsageError

    with pytest.raises(UsageError, match="between 0 and 1"):
        evaluate(model, [valid], "cpu", min_prob=2.0)


def test_eval_text_view_shows_the_coverage_line(model):
    from rich.console import Console

    from rnncli.api import evaluate
    from rnncli.cli.classify import render_report

    plain = evaluate(model, [SAMPLES / "valid.tsv"], "cpu")
    middle = sorted(row["confidence"] for row in plain["calibration"]["reliability"] if row["count"])
    threshold = round(middle[len(middle) // 2], 3)
    report = evaluate(model, [SAMPLES / "valid.tsv"], "cpu", min_prob=threshold)
    assert 0 < report["covered"] < report["examples"]
    console = Console(record=True, width=200, file=io.StringIO())
    render_report(report, console)
    text = console.export_text()
    assert (f"at --min-prob {threshold:g}: coverage {report['coverage'] * 100:.2f}% ({report['covered']:,} of "
            f"{report['examples']:,} covered, {report['abstained']:,} abstained), accuracy on the covered "
            f"{report['covered_accuracy'] * 100:.2f}") in text
    console = Console(record=True, width=200, file=io.StringIO())
    render_report(plain, console)
    assert "--min-prob" not in console.export_text()


def test_reliability_plot_renders_without_a_terminal(model):
    from rnncli.api import evaluate
    from rnncli.cli.calibration_view import reliability_plot
    from rnncli.errors import UsageError

    report = evaluate(model, [SAMPLES / "valid.tsv"], "cpu")
    text = reliability_plot(report, width=60, height=16)
    lines = text.splitlines()
    assert "\x1b[" not in text and len(lines) >= 16
    assert f"ECE {report['ece']:.4f}" in text and "confidence" in text and "accuracy" in text
    assert "perfect calibration" in text and "accuracy per bin" in text
    assert max(len(line) for line in lines) <= 60
    with pytest.raises(UsageError, match="no calibration"):
        reliability_plot({"perplexity": 3.0})


def eval_has(option: str) -> bool:
    import typer

    from rnncli.cli.app import app

    command = typer.main.get_command(app).commands["eval"]
    return any(option in param.opts for param in command.params)


@pytest.mark.skipif(not eval_has("--min-prob") or not eval_has("--plot"),
                    reason="rnncli eval has no --min-prob/--plot yet (cli/evaluate.py)")
def test_eval_command_min_prob_and_plot(cli, model):
    valid = SAMPLES / "valid.tsv"
    report = json.loads(cli("eval", model, valid, "--min-prob", "0.5", "--json", "--device", "cpu").out)
    assert {"min_prob", "coverage", "covered", "abstained", "covered_accuracy"} <= set(report)
    shown = cli("eval", model, valid, "--min-prob", "0.5", "--plot", "--device", "cpu")
    assert shown.code == 0 and "at --min-prob 0.5: coverage" in shown.out and "perfect calibration" in shown.out
    both = cli("eval", model, valid, "--json", "--plot", "--device", "cpu")
    assert json.loads(both.out)["ece"] >= 0 and "perfect calibration" in both.err      # stdout stays JSON
    one_line_exit_2(cli("eval", model, valid, "--min-prob", "2"), "between 0 and 1")


def test_python_api_classify_abstains_with_a_none_label(model):
    from rnncli.errors import UsageError

    classifier = rnncli.load(model, "cpu")
    texts = (SAMPLES / "unlabelled.txt").read_text().split("\n")[:20]
    texts = [t for t in texts if t]
    plain = classifier.classify(texts, top_k=2)
    threshold = sorted(p.probability for p in plain)[len(plain) // 2]
    marked = classifier.classify(texts, top_k=2, min_prob=threshold)
    for before, after in zip(plain, marked):
        assert after.probability == before.probability and after.top_k == before.top_k
        assert after.label == (None if before.probability < threshold else before.label)
    assert any(p.label is None for p in marked) and any(p.label is not None for p in marked)
    with pytest.raises(UsageError):
        classifier.classify(texts, min_prob=-1)
