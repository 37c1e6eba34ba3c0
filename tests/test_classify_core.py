"""Pooling, the classifier model, class weights, prediction order, and the metrics."""

from __future__ import annotations

import math

import pytest
import torch

from rnncli.core.pooling import POOLINGS, Pooling, last_pool
from rnncli.metrics.classification import classification_report, confusion_matrix
from rnncli.models.classifier import Classifier, ClassifierConfig
from rnncli.tasks.classify import class_weight_tensor, classify_loss, label_order, predict_probs


def tiny_model(pooling: str, cell: str = "lstm", bidirectional: bool = True, layers: int = 1) -> Classifier:
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size=30, num_labels=3, embed=8, hidden=6, layers=layers, cell=cell,
                              bidirectional=bidirectional, dropout=0.0, pooling=pooling)
    return Classifier(config).eval()


@pytest.mark.parametrize("pooling", POOLINGS)
@pytest.mark.parametrize("cell, bidirectional", [("lstm", True), ("gru", False)])
def test_padding_never_changes_the_logits(pooling, cell, bidirectional):
    model = tiny_model(pooling, cell, bidirectional, layers=2)
    ids = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]])
    lengths = torch.tensor([4, 2])
    with torch.no_grad():
        logits = model(ids, lengths)
        padded = model(torch.cat([ids, torch.zeros(2, 5, dtype=torch.long)], dim=1), lengths)
        alone = model(ids[1:, :2], lengths[1:])
    assert logits.shape == (2, 3)
    torch.testing.assert_close(padded, logits, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(alone, logits[1:], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", POOLINGS)
def test_pooling_ignores_whatever_sits_in_padding(method):
    torch.manual_seed(1)
    outputs = torch.randn(3, 5, 4)
    lengths = torch.tensor([5, 2, 1])
    pool = Pooling(method, 4, num_directions=2)
    garbage = outputs.clone()
    for row, length in enumerate(lengths.tolist()):
        garbage[row, length:] = 1e4
    torch.testing.assert_close(pool(garbage, lengths), pool(outputs, lengths))


def test_pooling_values_by_hand():
    outputs = torch.tensor([[[1.0, 10.0], [3.0, 20.0], [9.0, 99.0]]])     # (1, 3, 2), length 2
    lengths = torch.tensor([2])
    assert Pooling("mean", 2)(outputs, lengths).tolist() == [[2.0, 15.0]]
    assert Pooling("max", 2)(outputs, lengths).tolist() == [[3.0, 20.0]]
    assert Pooling("last", 2)(outputs, lengths).tolist() == [[3.0, 20.0]]
    # bidirectional halves: forward read at length-1, backward at position 0
    assert last_pool(outputs, lengths, num_directions=2).tolist() == [[3.0, 10.0]]


def balanced_by_hand(labels: list[int], k: int) -> list[float]:
    return [len(labels) / (k * labels.count(c)) for c in range(k)]


class FixedLogits(torch.nn.Module):
    """Stands in for the classifier: returns the same logits whatever the input."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = logits

    def forward(self, ids, lengths):
        return self.logits


def test_class_weights_change_the_loss_as_expected():
    # three confident, correct class-0 examples and one wrong class-2 example
    logits = torch.tensor([[3.0, 0.0, 0.0], [3.0, 0.0, 0.0], [3.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    batch = {"ids": torch.ones(4, 2, dtype=torch.long), "lengths": torch.tensor([2, 2, 1, 2]),
             "labels": torch.tensor([0, 0, 0, 2])}
    train_labels = [0, 0, 0, 0, 1, 2, 2, 2]
    weights = class_weight_tensor("balanced", train_labels, 3)
    assert weights.tolist() == pytest.approx(balanced_by_hand(train_labels, 3))
    model = FixedLogits(logits)
    plain, units = classify_loss(model, batch)
    weighted, _ = classify_loss(model, batch, weights)
    right = -math.log(math.exp(3) / (math.exp(3) + 2))        # loss of a correct example
    wrong = -math.log(1 / (math.exp(3) + 2))                  # loss of the wrong one
    assert units == 4
    assert float(plain) == pytest.approx((3 * right + wrong) / 4, rel=1e-6)
    w0, w2 = weights[0].item(), weights[2].item()             # 8/12 and 8/9
    assert float(weighted) == pytest.approx((3 * w0 * right + w2 * wrong) / (3 * w0 + w2), rel=1e-6)
    assert float(weighted) > float(plain)                     # the rarer, misclassified class counts more
    assert class_weight_tensor("none", train_labels, 3) is None


def test_balanced_weights_match_scikit_learn():
    sklearn_utils = pytest.importorskip("sklearn.utils")
    import numpy as np

    labels = [0, 1, 1, 2, 2, 2, 2]
    expected = sklearn_utils.compute_class_weight("balanced", classes=np.arange(3), y=np.array(labels))
    assert class_weight_tensor("balanced", labels, 3).tolist() == pytest.approx(expected.tolist())


def test_prediction_order_survives_length_sorted_batches():
    model = tiny_model("attention")
    torch.manual_seed(3)
    sequences = [torch.randint(4, 30, (n,)).tolist() for n in (3, 9, 1, 7, 2, 9, 5, 4, 8, 6, 1)]
    batched = predict_probs(model, sequences, torch.device("cpu"), batch_size=3)
    one_by_one = torch.cat([predict_probs(model, [s], torch.device("cpu")) for s in sequences])
    torch.testing.assert_close(batched, one_by_one, rtol=1e-5, atol=1e-6)
    assert batched.sum(dim=1).tolist() == pytest.approx([1.0] * len(sequences))


def test_metrics_equal_hand_computation():
    labels = ["a", "b", "c"]
    gold = [0, 0, 0, 1, 1, 2, 2, 2, 2, 0]
    pred = [0, 1, 0, 1, 2, 2, 2, 0, 2, 0]
    assert confusion_matrix(gold, pred, 3) == [[3, 1, 0], [0, 1, 1], [1, 0, 3]]
    report = classification_report(gold, pred, labels)
    p = {"a": 3 / 4, "b": 1 / 2, "c": 3 / 4}
    r = {"a": 3 / 4, "b": 1 / 2, "c": 3 / 4}
    f = {k: 2 * p[k] * r[k] / (p[k] + r[k]) for k in labels}
    assert report["accuracy"] == pytest.approx(7 / 10)
    assert report["macro_precision"] == pytest.approx(sum(p.values()) / 3)
    assert report["macro_recall"] == pytest.approx(sum(r.values()) / 3)
    assert report["macro_f1"] == pytest.approx(sum(f.values()) / 3)
    assert report["micro_f1"] == pytest.approx(7 / 10)
    assert report["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert report["confusion_matrix"]["labels"] == labels


def test_metrics_agree_with_scikit_learn_including_an_unpredicted_class():
    metrics = pytest.importorskip("sklearn.metrics")
    gold = [0, 1, 2, 3, 3, 1, 0, 2]
    pred = [0, 2, 2, 0, 0, 1, 1, 2]          # label 3 never predicted: precision 0 by convention
    report = classification_report(gold, pred, ["w", "x", "y", "z"])
    for average in ("macro", "micro"):
        p, r, f, _ = metrics.precision_recall_fscore_support(gold, pred, average=average, zero_division=0)
        assert (report[f"{average}_precision"], report[f"{average}_recall"], report[f"{average}_f1"]) == \
               pytest.approx((p, r, f))
    assert report["per_class"]["z"]["precision"] == 0.0
    assert not math.isnan(report["macro_f1"])


def test_labels_sort_naturally():
    assert label_order({"10", "2", "-1", "neg", "pos"}) == ["-1", "2", "10", "neg", "pos"]
