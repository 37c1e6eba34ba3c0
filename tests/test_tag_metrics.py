"""Entity scores equal seqeval's strict mode; confusion separates type and boundary errors."""

from __future__ import annotations

import random

import pytest
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2, IOBES

from rnncli.metrics.tagging import entity_confusion, quick_f1, tagging_report
from rnncli.schemes import convert


def random_sequences(rng, scheme, count=60):
    prefixes = {"iob2": "BI", "bioes": "BIES", "iob1": "BI"}[scheme]
    tags = ["O"] + [f"{p}-{t}" for p in prefixes for t in ("PER", "LOC")]
    lengths = [rng.randint(1, 10) for _ in range(count)]
    return [[rng.choice(tags) for _ in range(n)] for n in lengths], lengths


@pytest.mark.parametrize("scheme, seqeval_scheme", [("iob2", IOB2), ("bioes", IOBES)])
def test_entity_scores_equal_seqeval_strict_on_random_sequences(scheme, seqeval_scheme):
    rng = random.Random(7)
    for _ in range(30):
        gold, lengths = random_sequences(rng, scheme)
        pred = [[rng.choice(["O", *{t for s in gold for t in s}]) for _ in range(n)] for n in lengths]
        kwargs = dict(mode="strict", scheme=seqeval_scheme, zero_division=0)
        expected = (precision_score(gold, pred, **kwargs), recall_score(gold, pred, **kwargs),
                    f1_score(gold, pred, **kwargs))
        report = tagging_report(gold, pred, scheme)
        quick = quick_f1(gold, pred, scheme)
        for got in ((report["precision"], report["recall"], report["f1"]),
                    (quick["precision"], quick["recall"], quick["f1"])):
            assert got == pytest.approx(expected)


def test_iob1_is_scored_as_converted_iob2():
    gold = [["I-PER", "I-PER", "B-PER", "O", "I-LOC"]]
    pred = [["I-PER", "I-PER", "I-PER", "O", "I-ORG"]]
    report = tagging_report(gold, pred, "iob1")
    expected = f1_score([convert(gold[0], "iob1", "iob2")], [convert(pred[0], "iob1", "iob2")],
                        mode="strict", scheme=IOB2)
    assert report["f1"] == pytest.approx(expected)
    assert "IOB1" in report["mode"] and set(report["per_type"]) == {"PER", "LOC", "ORG"}
    assert report["per_type"]["ORG"]["support"] == 0


def test_confusion_kinds():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "O", "B-PER", "O", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG", "O", "B-ORG", "I-ORG", "O", "O", "B-LOC"]]
    result = entity_confusion(gold, pred, "iob2")
    rows = result["confusion"]["by_type"]
    assert rows["PER"]["correct"] == 1 and rows["PER"]["missed"] == 1
    assert rows["LOC"]["type_error"] == 1 and rows["LOC"]["spurious"] == 1
    assert rows["ORG"]["boundary_error"] == 1
    assert result["confusion"]["type_errors"] == {"LOC->ORG": 1}
    assert result["entities"] == {"gold": 4, "predicted": 4, "correct": 1}


def test_pos_tags_score_per_token_and_invalid_transitions_are_counted():
    report = tagging_report([["NN", "VB", "DT"]], [["NN", "NN", "DT"]], "none")
    assert report["f1"] == pytest.approx(2 / 3) and report["per_type"]["VB"]["recall"] == 0
    assert tagging_report([["B-PER", "O"]], [["O", "I-PER"]], "iob2")["invalid_transitions"] == 1
