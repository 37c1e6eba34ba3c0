"""Parallel files and translation metrics."""

import pytest
import sacrebleu

from rnncli.errors import DataError
from rnncli.metrics.translation import translation_scores
from rnncli.readers.parallel import filter_by_length, read_parallel, read_references


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def test_mismatched_line_counts_name_both_files_and_counts(tmp_path):
    src = write(tmp_path / "a.en", ["one", "two", "three"])
    tgt = write(tmp_path / "a.de", ["eins", "zwei"])
    with pytest.raises(DataError) as err:
        read_parallel(src, tgt)
    message = str(err.value)
    assert str(src) in message and str(tgt) in message and "3" in message and "2" in message


def test_empty_pairs_skipped_in_training_kept_for_scoring(tmp_path):
    src = write(tmp_path / "a.en", ["one", "", "three", "four"])
    tgt = write(tmp_path / "a.de", ["eins", "zwei", "  ", "vier"])
    train = read_parallel(src, tgt, skip_empty=True)
    assert train.src == ["one", "four"] and train.tgt == ["eins", "vier"]
    assert train.skipped_empty == 2 and train.line_numbers == [1, 4]
    scoring = read_parallel(src, tgt, skip_empty=False)
    assert len(scoring) == 4 and scoring.src[1] == "" and scoring.skipped_empty == 0


def test_all_empty_pairs_is_an_error(tmp_path):
    src = write(tmp_path / "a.en", ["", "x"])
    tgt = write(tmp_path / "a.de", ["y", ""])
    with pytest.raises(DataError, match="no pair"):
        read_parallel(src, tgt)


def test_filter_by_length_counts_dropped_pairs():
    src = [[1] * 3, [1] * 9, [1] * 2]
    tgt = [[1] * 4, [1] * 2, [1] * 8]
    assert filter_by_length(src, tgt, 5) == ([0], 2)
    assert filter_by_length(src, tgt, None) == ([0, 1, 2], 0)


def test_references_must_match_hypothesis_count(tmp_path):
    ref = write(tmp_path / "ref.de", ["a", "b"])
    assert read_references([ref], 2, "hyp.txt") == [["a", "b"]]
    with pytest.raises(DataError, match="hyp.txt has 3 lines"):
        read_references([ref], 3, "hyp.txt")


HYPS = ["The cat sat on the mat.", "A dog runs in the park today.", "It is raining", "Hello world!"]
REFS = [["The cat sat on a mat.", "A dog is running in the park.", "It rains.", "Hello, world!"],
        ["There is a cat on the mat.", "The dog runs in a park.", "It is raining.", "Hello world"]]


def test_scores_equal_sacrebleu_own():
    report = translation_scores(HYPS, REFS, bootstrap=200)
    assert report["bleu"] == pytest.approx(sacrebleu.corpus_bleu(HYPS, REFS).score, abs=1e-4)
    assert report["chrf"] == pytest.approx(sacrebleu.corpus_chrf(HYPS, REFS).score, abs=1e-4)
    assert report["ter"] == pytest.approx(sacrebleu.corpus_ter(HYPS, REFS).score, abs=1e-4)
    assert report["signatures"]["bleu"].startswith("nrefs:2|case:mixed|eff:no|tok:13a")
    assert "bs:200" in report["signatures"]["bleu_ci"]
    low, high = report["bleu_ci"]
    assert low <= high and 0 <= low <= 100 and high <= 100


def test_identical_output_scores_perfectly():
    report = translation_scores(REFS[0], [REFS[0]])
    assert report["bleu"] == 100.0 and report["chrf"] == 100.0 and report["ter"] == 0.0
    assert 90 < report["bleu_ci"][0] <= report["bleu_ci"][1] <= 100.0
