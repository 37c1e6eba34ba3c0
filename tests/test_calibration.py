"""Calibration: ECE and the reliability table on a hand-computed case, temperature scaling
(fit, storage in the checkpoint, use at inference), old checkpoints, and `eval`'s report."""

from __future__ import annotations

import io
import json
import math
import shutil

import pytest
import torch

from conftest import DATA

from rnncli.metrics.calibration import BINS, calibration_report, check_temperature, fit_temperature, reliability

CLASSIFY = DATA / "classify"
TAG = DATA / "tag"
TINY_CLASSIFY = ["--hidden", "24", "--embed", "24", "--vocab-size", "300", "--batch-size", "16", "--lr", "0.01",
                 "--warmup", "0", "--quiet", "--epochs", "3", "--seed", "2"]
TINY_TAG = ["--hidden", "24", "--embed", "16", "--char-embed", "8", "--char-features", "16", "--batch-size", "16",
            "--lr", "0.01", "--warmup", "0", "--quiet", "--epochs", "4", "--seed", "2"]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    from rnncli.cli.app import run

    out = tmp_path_factory.mktemp("calibrated") / "classify"
    code = run(["train", "classify", "--train", str(CLASSIFY / "train.tsv"), "--valid", str(CLASSIFY / "valid.tsv"),
                "--out", str(out), *TINY_CLASSIFY], False)
    assert code == 0
    return out


@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    from rnncli.cli.app import run

    out = tmp_path_factory.mktemp("calibrated") / "tag"
    code = run(["train", "tag", "--train", str(TAG / "train.iob1.conll"), "--valid", str(TAG / "valid.iob1.conll"),
                "--out", str(out), *TINY_TAG], False)
    assert code == 0
    return out


# ---- the metric ------------------------------------------------------------------------------

def test_ece_on_a_hand_computed_case():
    # bins of width 1/15: 0.95 -> bin 14, 0.9 -> 13, 0.62 and 0.61 -> 9, 0.3 -> 4
    result = reliability([0.95, 0.9, 0.62, 0.61, 0.3], [True, False, True, False, True])
    # (|1 - .95| + |0 - .9| + 2 * |.5 - .615| + |1 - .3|) / 5 = (0.05 + 0.9 + 0.23 + 0.7) / 5
    assert result.ece == pytest.approx(0.376, abs=1e-12)
    assert len(result.bins) == BINS == 15 and result.count == 5
    nine = result.bins[9]
    assert nine["count"] == 2 and nine["confidence"] == pytest.approx(0.615) and nine["accuracy"] == 0.5
    assert nine["lower"] == pytest.approx(9 / 15, abs=1e-6) and nine["upper"] == pytest.approx(10 / 15, abs=1e-6)
    assert result.bins[0] == {"lower": 0.0, "upper": pytest.approx(1 / 15, abs=1e-6), "confidence": None, "accuracy": None,
                              "count": 0}
    assert sum(row["count"] for row in result.bins) == 5


def test_bin_edges_belong_to_the_lower_bin():
    # (k/15, (k+1)/15]: an upper edge belongs to its bin despite float error in 2/15 * 15
    result = reliability([2 / 15, 1.0, 0.0], [True, True, False])
    assert [i for i, row in enumerate(result.bins) if row["count"]] == [0, 1, 14]
    assert reliability([], []).ece == 0.0


def test_perfectly_calibrated_predictions_have_zero_ece():
    confidences = [0.7] * 10
    assert reliability(confidences, [True] * 7 + [False] * 3).ece == pytest.approx(0.0, abs=1e-12)
    report = calibration_report([0.7] * 10, [0.99] * 10, [True] * 7 + [False] * 3, 1.5, "examples", "p")
    assert report["ece"] == pytest.approx(0.0, abs=1e-12) and report["ece_uncalibrated"] == pytest.approx(0.29)
    assert report["temperature"] == 1.5 and report["bins"] == 15 and len(report["reliability"]) == 15


def test_fit_temperature_finds_the_minimum():
    assert fit_temperature(lambda t: (math.log(t) - math.log(2.5)) ** 2) == pytest.approx(2.5, rel=5e-3)
    assert fit_temperature(lambda t: (math.log(t) + 1.0) ** 2) == pytest.approx(math.exp(-1), rel=5e-3)


def test_temperature_scaling_lowers_the_nll_of_overconfident_logits():
    from rnncli.tasks.classify import fit_classifier_temperature

    generator = torch.Generator().manual_seed(0)
    gold = torch.randint(0, 3, (400,), generator=generator)
    logits = torch.randn(400, 3, generator=generator)
    logits[torch.arange(400), gold] += 1.0
    fitted = fit_classifier_temperature(logits * 6, gold.tolist())   # 6x too sharp: overconfident
    assert fitted["temperature"] > 3
    assert fitted["validation_nll"]["after"] < fitted["validation_nll"]["before"]
    assert fitted["validation_ece"]["after"] < fitted["validation_ece"]["before"]


def test_stored_temperatures_are_checked():
    assert check_temperature(None, "x") == 1.0 and check_temperature(2, "x") == 2.0
    for bad in (0, -1.0, float("nan"), float("inf"), "2", True):
        with pytest.raises(ValueError, match="temperature"):
            check_temperature(bad, "ckpt/config.json")


def test_tempered_crf_marginals():
    from rnncli.core.crf import CRF
    from rnncli.tasks.tag import crf_marginals

    torch.manual_seed(0)
    crf = CRF(4)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    emissions = torch.randn(2, 5, 4)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    same = crf_marginals(crf, emissions, mask, 1.0)
    assert torch.allclose(same, crf.marginals(emissions, mask), atol=1e-6)   # T = 1 is the model itself
    hot = crf_marginals(crf, emissions, mask, 50.0)
    assert torch.allclose(hot[mask].sum(-1), torch.ones(8), atol=1e-5)
    assert hot[mask].max() < same[mask].max()          # a high temperature flattens the marginals
    assert torch.all(hot[1, 3:] == 0)                  # padding stays zero


# ---- training stores a temperature; inference and eval use it -----------------------------------

def test_training_fits_and_stores_a_temperature_that_lowers_validation_nll(classifier, tagger):
    for checkpoint in (classifier, tagger):
        calibration = json.loads((checkpoint / "config.json").read_text())["calibration"]
        assert calibration["temperature"] > 0 and calibration["temperature"] != 1.0
        nll = calibration["validation_nll"]
        assert nll["after"] < nll["before"]
        assert calibration["validation_ece"]["bins"] == 15


def test_classify_probabilities_use_the_temperature(classifier):
    import rnncli

    model = rnncli.load(classifier, "cpu")
    temperature = json.loads((classifier / "config.json").read_text())["calibration"]["temperature"]
    assert model.temperature == temperature
    texts = ["a fine and moving film", "dull"]
    logits = model.logits(texts)
    assert torch.allclose(model.predict(texts), (logits / temperature).softmax(-1), atol=1e-6)
    top = model.classify(texts)
    assert top[0].probability == pytest.approx(float((logits[0] / temperature).softmax(-1).max()), abs=1e-6)


def test_eval_json_carries_ece_and_the_reliability_table(cli, classifier, tagger):
    for checkpoint, data, unit in ((classifier, CLASSIFY / "valid.tsv", "examples"),
                                   (tagger, TAG / "valid.iob1.conll", "tokens")):
        result = cli("eval", checkpoint, data, "--json")
        assert result.code == 0, result.err
        report = json.loads(result.out)
        calibration = report["calibration"]
        assert report["ece"] == calibration["ece"] and 0 <= report["ece"] <= 1
        assert calibration["unit"] == unit and calibration["bins"] == 15
        assert len(calibration["reliability"]) == 15
        assert set(calibration["reliability"][0]) == {"lower", "upper", "confidence", "accuracy", "count"}
        expected = report["examples"] if unit == "examples" else report["tokens"]
        assert sum(row["count"] for row in calibration["reliability"]) == calibration["count"] == expected
        filled = [row for row in calibration["reliability"] if row["count"]]
        assert all(row["lower"] <= row["confidence"] <= row["upper"] + 1e-9 for row in filled)
        assert calibration["ece"] == pytest.approx(sum(row["count"] * abs(row["accuracy"] - row["confidence"])
                                                       for row in filled) / expected)
        assert calibration["temperature"] == json.loads((checkpoint / "config.json").read_text())["calibration"][
            "temperature"]
        assert "ece_uncalibrated" in calibration


def test_old_checkpoints_without_a_temperature_load_at_one(cli, classifier, tagger, tmp_path):
    import rnncli

    for checkpoint, data in ((classifier, CLASSIFY / "valid.tsv"), (tagger, TAG / "valid.iob1.conll")):
        old = tmp_path / checkpoint.name
        shutil.copytree(checkpoint, old)
        config = json.loads((old / "config.json").read_text())
        del config["calibration"]
        (old / "config.json").write_text(json.dumps(config))
        assert rnncli.load(old, "cpu").temperature == 1.0
        report = json.loads(cli("eval", old, data, "--json").out)
        assert report["calibration"]["temperature"] == 1.0
        assert report["ece"] == pytest.approx(report["calibration"]["ece_uncalibrated"])


def test_a_damaged_temperature_is_one_line_exit_2(cli, classifier, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(classifier, bad)
    config = json.loads((bad / "config.json").read_text())
    config["calibration"]["temperature"] = -3
    (bad / "config.json").write_text(json.dumps(config))
    result = cli("eval", bad, CLASSIFY / "valid.tsv", "--json")
    assert result.code == 2 and result.out == ""
    assert result.err.count("\n") == 1 and "temperature -3 is not a positive number" in result.err


def test_tag_span_scores_use_the_temperature(tagger):
    import rnncli

    model = rnncli.load(tagger, "cpu")
    hot = rnncli.load(tagger, "cpu")
    hot.temperature = 25.0
    line = "Pavel Kovac won the Valmoran title ."
    cool_scores = [s.score for s in model.tag(line)[0].spans]
    hot_scores = [s.score for s in hot.tag(line)[0].spans]
    assert [s.type for s in model.tag(line)[0].spans] == [s.type for s in hot.tag(line)[0].spans]
    assert cool_scores and all(h < c for h, c in zip(hot_scores, cool_scores))


def test_reliability_table_renders_without_a_terminal(cli, classifier):
    from rich.console import Console

    from rnncli.cli.calibration_view import render_calibration

    report = json.loads(cli("eval", classifier, CLASSIFY / "valid.tsv", "--json").out)
    buffer = io.StringIO()
    render_calibration(report, Console(file=buffer, width=100, force_terminal=False))
    text = " ".join(buffer.getvalue().split())     # the title wraps to the table's width
    assert f"ECE {report['ece']:.4f}" in text and "15 equal-width bins" in text and "mean confidence" in text
