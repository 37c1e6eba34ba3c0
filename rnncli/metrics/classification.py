"""Classification scores from a confusion matrix: accuracy, macro/micro P/R/F1, per class.

Conventions follow scikit-learn's `precision_recall_fscore_support` with zero_division=0:
a class never predicted has precision 0, a class absent from the gold labels has recall 0
(both count in macro averages over the label set). Scores are fractions in [0, 1].
For single-label data micro P = micro R = micro F1 = accuracy whenever every gold and
predicted label is in the label set and nothing is abstained.

A prediction may be None: an abstention (a `classify --min-prob` output file's `?`). It is
counted wrong: it stays in the total and in its gold label's support (so it lowers accuracy
and recall) but in no predicted column (so it costs no label precision; micro precision is
then the accuracy of the predictions made).
"""

from __future__ import annotations

from typing import Any, Sequence


def confusion_matrix(gold: Sequence[int], predicted: Sequence[int | None], num_labels: int) -> list[list[int]]:
    """rows[g][p] = how many examples with gold label g were predicted as p (abstentions,
    None, are in no column: see abstentions)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    rows = [[0] * num_labels for _ in range(num_labels)]
    for g, p in zip(gold, predicted):
        if p is not None:
            rows[g][p] += 1
    return rows


def abstentions(gold: Sequence[int], predicted: Sequence[int | None], num_labels: int) -> list[int]:
    """How many examples of each gold label have no prediction (None)."""
    counts = [0] * num_labels
    for g, p in zip(gold, predicted):
        if p is None:
            counts[g] += 1
    return counts


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def f1(precision: float, recall: float) -> float:
    return ratio(2 * precision * recall, precision + recall)


def classification_report(gold: Sequence[int], predicted: Sequence[int | None],
                          labels: Sequence[str]) -> dict[str, Any]:
    """The full report (the `rnncli eval --json` body for classification).

    gold/predicted are label indices into `labels` (a prediction None: abstained). With
    abstentions the confusion matrix gains "abstained", the count per gold label.
    """
    rows = confusion_matrix(gold, predicted, len(labels))
    missing = abstentions(gold, predicted, len(labels))
    total = len(gold)
    correct = sum(rows[i][i] for i in range(len(labels)))
    per_class: dict[str, dict[str, float]] = {}
    for index, label in enumerate(labels):
        true_positive = rows[index][index]
        predicted_here = sum(row[index] for row in rows)
        support = sum(rows[index]) + missing[index]
        precision = ratio(true_positive, predicted_here)
        recall = ratio(true_positive, support)
        per_class[label] = {"precision": precision, "recall": recall,
                            "f1": f1(precision, recall), "support": support}
    count = max(1, len(labels))
    macro_p = sum(c["precision"] for c in per_class.values()) / count
    macro_r = sum(c["recall"] for c in per_class.values()) / count
    micro_p = micro_r = micro_f = ratio(correct, total)  # single-label: micro P = micro R = accuracy
    matrix: dict[str, Any] = {"labels": list(labels), "rows": rows}
    if any(missing):   # only then, so that checkpoint reports keep their shape and numbers
        micro_p = ratio(correct, total - sum(missing))   # abstentions predict nothing
        micro_f = f1(micro_p, micro_r)
        matrix["abstained"] = missing
    return {
        "examples": total,
        "accuracy": ratio(correct, total),
        "macro_precision": macro_p,
        "macro_recall": macro_r,
        "macro_f1": sum(c["f1"] for c in per_class.values()) / count,
        "micro_precision": micro_p,
        "micro_recall": micro_r,
        "micro_f1": micro_f,
        "per_class": per_class,
        "confusion_matrix": matrix,
    }


def accuracy_and_macro_f1(gold: Sequence[int], predicted: Sequence[int],
                          num_labels: int) -> dict[str, float]:
    """The two figures training watches, without building the whole report."""
    report = classification_report(gold, predicted, [str(i) for i in range(num_labels)])
    return {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}
