"""Paired significance: rnncli's resampler against sacrebleu's paired tests (golden), hand-made
cases, and `rnncli eval` with several --hyp / --pred files end to end."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest

from conftest import DATA
from rnncli.metrics import significance as sig

REF = DATA / "translate" / "test.en"
GOLD = DATA / "tag" / "valid.iob2.conll"


def noisy_lines(path, rate: float, seed: int) -> list[str]:
    """The reference with a share of its words replaced: a system of known quality."""
    rng = random.Random(seed)
    return [" ".join(w if rng.random() > rate else "xx" for w in line.split())
            for line in path.read_text().splitlines()]


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def systems():
    return [("a", noisy_lines(REF, 0.3, 1)), ("b", noisy_lines(REF, 0.25, 2)), ("c", noisy_lines(REF, 0.1, 3))]


# ---- golden: rnncli's resampler equals sacrebleu's paired tests ------------------------------
@pytest.mark.parametrize("method", ["bs", "ar"])
def test_bleu_resampling_equals_sacrebleus_paired_test(systems, method, monkeypatch):
    from sacrebleu.metrics import BLEU
    from sacrebleu.significance import PairedTest, estimate_ci

    refs = [REF.read_text().splitlines()]
    monkeypatch.setenv("SACREBLEU_SEED", "4242")
    _, results = PairedTest(systems, {"BLEU": BLEU()}, refs, test_type=method, n_samples=500)()
    metric = BLEU()
    stats = [np.asarray(metric._extract_corpus_statistics(hyps, refs), dtype=float) for _, hyps in systems]
    for index in (1, 2):
        ours = sig.paired_test(stats[0], stats[index], sig.sacrebleu_score(metric), metric="bleu",
                               names=("a", systems[index][0]), resamples=500, seed=4242, method=method)
        theirs = results["BLEU"][index]
        assert ours.system_score == pytest.approx(theirs.score, abs=1e-4)
        assert ours.baseline_score == pytest.approx(results["BLEU"][0].score, abs=1e-4)
        assert ours.p_value == theirs.p_value
        if method == "bs":        # the same resamples: the system's bootstrap mean and interval too
            _, scores = sig.bootstrap(stats[0], stats[index], sig.sacrebleu_score(metric), 500, 4242)
            mean, half = estimate_ci(scores)
            assert (mean, half) == pytest.approx((theirs.mean, theirs.ci), abs=1e-9)
    assert 0 < results["BLEU"][1].p_value < 1


def test_translation_comparisons_go_through_sacrebleu(systems):
    refs = [REF.read_text().splitlines()]
    comparisons = sig.translation_comparisons(systems[:2], refs, resamples=200, seed=9)
    assert [c.metric for c in comparisons] == ["bleu", "chrf", "ter"]
    bleu, chrf, ter = comparisons
    assert bleu.signature.startswith("nrefs:1|bs:200|seed:9|") and not ter.higher_is_better
    assert bleu.ci[0] <= bleu.difference <= bleu.ci[1]
    assert "SACREBLEU_SEED" not in os.environ or os.environ["SACREBLEU_SEED"] != "9"


# ---- the resampler on hand-made cases --------------------------------------------------------
def test_identical_systems_differ_by_nothing():
    stats = np.array([[3, 2, 2], [1, 1, 0], [4, 5, 3], [2, 2, 2]] * 5, dtype=float)
    for method in ("bs", "ar"):
        result = sig.paired_test(stats, stats, sig.f1_score, metric="f1", names=("a", "b"), resamples=300,
                                 seed=5, method=method)
        assert result.difference == 0 and result.ci == (0.0, 0.0) and result.p_value == 1.0
        assert result.verdict() == "same"


def test_a_strictly_better_system_is_significant():
    rng = np.random.default_rng(0)
    errors_a = rng.uniform(1.0, 2.0, size=40)
    errors_b = errors_a - rng.uniform(0.3, 0.6, size=40)          # better on every series
    base, system = sig.mean_statistics(list(errors_a)), sig.mean_statistics(list(errors_b))
    for method in ("bs", "ar"):
        result = sig.paired_test(base, system, sig.ratio_score, metric="mase", names=("a", "b"), resamples=400,
                                 seed=3, method=method, higher_is_better=False)
        assert result.difference == pytest.approx(errors_b.mean() - errors_a.mean())
        assert result.p_value == pytest.approx(1 / 401) and result.ci[1] < 0
        assert result.verdict() == "better" and result.to_dict()["significant"]


def test_resampling_is_seeded_and_rejects_bad_settings():
    stats_a = np.array([[1, 1, 1], [2, 2, 1], [1, 0, 0], [3, 3, 2]], dtype=float)
    stats_b = np.array([[1, 1, 0], [2, 2, 2], [1, 1, 1], [3, 3, 3]], dtype=float)
    first = sig.paired_test(stats_a, stats_b, sig.f1_score, metric="f1", names=("a", "b"), resamples=50, seed=11)
    again = sig.paired_test(stats_a, stats_b, sig.f1_score, metric="f1", names=("a", "b"), resamples=50, seed=11)
    assert first == again and first.signature == "test:paired_bs|resamples:50|seed:11|ci:95%"
    counts = sig.bootstrap_counts(4, 50, 11)
    assert counts.shape == (50, 4) and (counts.sum(1) == 4).all()
    for bad in ({"resamples": 0}, {"seed": 0}, {"method": "t-test"}):
        with pytest.raises(ValueError):
            sig.paired_test(stats_a, stats_b, sig.f1_score, metric="f1", names=("a", "b"), **bad)
    with pytest.raises(ValueError):
        sig.paired_test(stats_a, stats_b[:2], sig.f1_score, metric="f1", names=("a", "b"))


# ---- end to end ------------------------------------------------------------------------------
def test_eval_compares_translations(cli, tmp_path, systems):
    files = [write_lines(tmp_path / f"{name}.txt", lines) for name, lines in systems]
    result = cli("eval", *[x for f in files for x in ("--hyp", f)], "--ref", REF, "--json", "--resamples", "200",
                 "--seed", "7")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["baseline"] == str(files[0]) and report["resamples"] == 200 and report["seed"] == 7
    assert [s["name"] for s in report["systems"]] == [str(f) for f in files]
    assert report["systems"][2]["scores"]["bleu"] > report["systems"][0]["scores"]["bleu"]
    assert len(report["comparisons"]) == 6
    for row in report["comparisons"]:
        assert set(row) >= {"metric", "baseline", "system", "difference", "ci", "p_value", "resamples", "seed",
                            "method", "signature", "verdict"}
        assert row["method"] == "paired_bs" and "bs:200|seed:7" in row["signature"]
    best = [r for r in report["comparisons"] if r["system"] == str(files[2])]
    assert all(r["verdict"] == "better" and r["p_value"] < 0.05 for r in best)
    assert report["winner"]["bleu"] == {"system": str(files[2]), "significant": True}
    assert report["winner"]["ter"]["system"] == str(files[2])                     # lower TER wins
    table = cli("eval", "--hyp", files[0], "--hyp", files[2], "--ref", REF, "--resamples", "100")
    assert table.code == 0 and "★" in table.out and "better" in table.out and table.err == ""


def test_eval_compares_identical_translations_as_no_difference(cli, tmp_path, systems):
    one = write_lines(tmp_path / "one.txt", systems[0][1])
    two = write_lines(tmp_path / "two.txt", systems[0][1])
    report = json.loads(cli("eval", "--hyp", one, "--hyp", two, "--ref", REF, "--json", "--resamples", "100",
                            "--paired-test", "ar").out)
    assert all(r["difference"] == 0 and r["p_value"] == 1.0 and r["verdict"] == "same" and
               r["method"] == "paired_ar" for r in report["comparisons"])
    assert report["winner"]["bleu"]["significant"] is False


def corrupt_tags(rate: float, seed: int) -> str:
    """The gold CoNLL file with a share of its entity tags turned into O."""
    rng = random.Random(seed)
    out = []
    for line in GOLD.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[-1] != "O" and rng.random() < rate:
            parts[-1] = "O"
        out.append(" ".join(parts))
    return "\n".join(out) + "\n"


def test_eval_compares_tag_files(cli, tmp_path):
    from rnncli.tasks.tag_output import tag_sentence_statistics

    weak, strong = tmp_path / "weak.conll", tmp_path / "strong.conll"
    weak.write_text(corrupt_tags(0.4, 1))
    strong.write_text(corrupt_tags(0.05, 2))
    report, counts = tag_sentence_statistics(str(weak), str(GOLD))
    assert sig.f1_score(np.asarray(counts, dtype=float).sum(0)[None])[0] == pytest.approx(report["f1"])
    result = cli("eval", "--pred", weak, "--pred", strong, "--gold", GOLD, "--json", "--resamples", "300")
    assert result.code == 0, result.err
    out = json.loads(result.out)
    (row,) = out["comparisons"]
    assert row["metric"] == "f1" and row["verdict"] == "better" and row["ci"][0] > 0
    assert row["baseline_score"] == pytest.approx(out["systems"][0]["scores"]["f1"])
    assert row["system_score"] == pytest.approx(out["systems"][1]["scores"]["f1"])
    copy = tmp_path / "copy.conll"
    copy.write_text(weak.read_text())
    same = json.loads(cli("eval", "--pred", weak, "--pred", GOLD, "--pred", copy, "--gold", GOLD, "--json",
                          "--resamples", "100").out)
    assert same["comparisons"][1]["p_value"] == 1.0 and same["winner"]["f1"]["system"] == str(GOLD)


def forecast_files(tmp_path):
    rng = random.Random(3)
    names = [f"s{j}" for j in range(8)]
    values = {n: [10 + i * 0.5 + rng.random() * 2 + j for i in range(12)] for j, n in enumerate(names)}
    (tmp_path / "actual.csv").write_text("date," + ",".join(names) + "\n" + "".join(
        f"{2000 + i}," + ",".join(f"{values[n][i]:.3f}" for n in names) + "\n" for i in range(12)))
    for label, error in (("far", 3.0), ("near", 0.5)):
        rows = [f"{n},{2000 + i},{values[n][i] + error * rng.choice((1, -1)):.3f}" for n in names for i in (10, 11)]
        (tmp_path / f"{label}.csv").write_text("series,timestamp,forecast\n" + "\n".join(rows) + "\n")
    return tmp_path / "actual.csv", tmp_path / "far.csv", tmp_path / "near.csv"


def test_eval_compares_forecast_files(cli, tmp_path):
    actual, far, near = forecast_files(tmp_path)
    result = cli("eval", "--pred", far, "--pred", near, "--actual", actual, "--no-baselines", "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    (row,) = report["comparisons"]
    assert row["metric"] == "mase" and row["higher_is_better"] is False and row["verdict"] == "better"
    assert row["difference"] == pytest.approx(report["systems"][1]["scores"]["mase"]
                                              - report["systems"][0]["scores"]["mase"])
    assert report["winner"]["mase"] == {"system": str(near), "significant": True}
    (tmp_path / "few.csv").write_text("series,timestamp,forecast\ns0,2010,20\n")
    mismatch = cli("eval", "--pred", far, "--pred", tmp_path / "few.csv", "--actual", actual, "--no-baselines")
    assert mismatch.code == 2 and "same series" in mismatch.err


@pytest.mark.parametrize("extra, needle", [
    (("--fail-under", "bleu=10"), "gate one system"),
    (("--paired-test", "t"), "--paired-test 't'"),
    (("--seed", "0"), "--seed"),
])
def test_bad_comparison_options_exit_2(cli, tmp_path, extra, needle):
    a = write_lines(tmp_path / "a.txt", ["x y"] * 3)
    b = write_lines(tmp_path / "b.txt", ["x z"] * 3)
    result = cli("eval", "--hyp", a, "--hyp", b, "--ref", a, *extra)
    assert result.code == 2 and needle in result.err and result.out == ""


def test_bad_comparisons_are_one_line_errors(cli, tmp_path):
    a = write_lines(tmp_path / "a.txt", ["x y"] * 3)
    short = write_lines(tmp_path / "s.txt", ["x y"] * 2)
    for args, needle in ((("--hyp", a, "--hyp", a, "--ref", a), "given twice"),
                         (("--hyp", a, "--hyp", short, "--ref", a), str(short)),
                         (("--pred", a, "--pred", short), "--gold"),
                         (("--hyp", a, "--hyp", short), "--ref")):
        result = cli("eval", *args)
        assert result.code == 2 and needle in result.err and result.err.count("\n") == 1, (args, result.err)
        assert "Traceback" not in result.err and result.out == ""


# ---- checkpoints compared on one data file ---------------------------------------------------
def test_two_tag_checkpoints_are_compared_on_one_file(cli, tmp_path):
    """`eval CKPT_A CKPT_B DATA` tags DATA with each and compares them as --pred files would
    be: the same figures as tagging to files and comparing those."""
    data = DATA / "tag"
    tiny = ["--hidden", "16", "--embed", "8", "--char-embed", "8", "--char-features", "8", "--quiet"]
    for name, steps in (("a", "2"), ("b", "40")):
        assert cli("train", "tag", "--train", data / "train.iob2.conll", "--valid", data / "valid.iob2.conll",
                   "--out", tmp_path / name, "--max-steps", steps, "--seed", "3", *tiny).code == 0
    gold = data / "valid.iob2.conll"
    result = cli("eval", tmp_path / "a", tmp_path / "b", gold, "--json", "--resamples", "200")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert [s["name"] for s in report["systems"]] == [str(tmp_path / "a"), str(tmp_path / "b")]
    (comparison,) = report["comparisons"]
    assert comparison["metric"] == "f1" and comparison["resamples"] == 200
    for name in ("a", "b"):   # the same as tagging to a file and scoring it
        tagged = cli("tag", tmp_path / name, gold, "--input-format", "conll", "-o", tmp_path / f"{name}.conll")
        assert tagged.code == 0, tagged.err
    files = json.loads(cli("eval", "--pred", tmp_path / "a.conll", "--pred", tmp_path / "b.conll", "--gold", gold,
                           "--json", "--resamples", "200").out)
    assert comparison["difference"] == pytest.approx(files["comparisons"][0]["difference"])
    assert comparison["p_value"] == pytest.approx(files["comparisons"][0]["p_value"])
    text = cli("eval", tmp_path / "a", tmp_path / "b", gold, "--resamples", "50")
    assert text.code == 0 and "★" in text.out


def test_checkpoints_of_other_tasks_or_with_gates_are_refused(cli, tmp_path):
    from rnncli.cli.app import run

    data = DATA / "tag"
    tiny = ["--hidden", "8", "--embed", "8", "--char-features", "0", "--max-steps", "1", "--quiet"]
    for name in ("a", "b"):
        assert run(["train", "tag", "--train", str(data / "train.iob2.conll"), "--valid",
                    str(data / "valid.iob2.conll"), "--out", str(tmp_path / name), *tiny], False) == 0
    gated = cli("eval", tmp_path / "a", tmp_path / "b", data / "valid.iob2.conll", "--fail-under", "f1=0.5")
    assert gated.code == 2 and "gate one system" in gated.err
    clf = tmp_path / "clf"
    assert cli("train", "classify", "--train", DATA / "classify" / "train.tsv", "--valid",
               DATA / "classify" / "valid.tsv", "--out", clf, "--hidden", "8", "--vocab-size", "60",
               "--max-steps", "1", "--quiet").code == 0
    mixed = cli("eval", tmp_path / "a", clf, data / "valid.iob2.conll")
    assert mixed.code == 2 and "different tasks" in mixed.err
