"""Tagging scores: entity precision/recall/F1 through seqeval's strict mode for the
scheme, a per-type table, an entity confusion that separates type errors from boundary
errors, and invalid-transition counts. For tag sets without spans (scheme "none", e.g.
part of speech) the scores are per-token.

Scores are fractions in [0, 1]. IOB1 is scored as the IOB2 it converts to (seqeval's
strict mode has no faithful IOB1 reader), and the report says so in `mode`.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any, Sequence

from rnncli.schemes import convert, count_invalid, strict_spans

SEQEVAL_SCHEME = {"iob1": "IOB2", "iob2": "IOB2", "bioes": "IOBES"}
ERROR_KINDS = ("correct", "type_error", "boundary_error", "type_and_boundary", "missed")


def tagging_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str) -> dict[str, Any]:
    """The full report for sentences of gold and predicted tags (same lengths)."""
    tokens = sum(len(s) for s in gold)
    correct_tokens = sum(g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    base = {"scheme": scheme, "sentences": len(gold), "tokens": tokens,
            "accuracy": correct_tokens / max(1, tokens),
            "invalid_transitions": sum(count_invalid(p, scheme) for p in pred)}
    if scheme == "none":
        return {**base, **token_scores(gold, pred)}
    if scheme == "iob1":
        gold = [convert(s, "iob1", "iob2") for s in gold]
        pred = [convert(s, "iob1", "iob2") for s in pred]
    target = SEQEVAL_SCHEME[scheme]
    mode = f"seqeval strict, scheme {target}" + (" (converted from IOB1)" if scheme == "iob1" else "")
    return {**base, "mode": mode, **seqeval_scores(gold, pred, target),
            **entity_confusion(gold, pred, "iob2" if scheme == "iob1" else scheme)}


def seqeval_scores(gold, pred, target: str) -> dict[str, Any]:
    from seqeval import scheme as seqeval_scheme
    from seqeval.metrics import classification_report

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined P/R for types with no entity: reported as 0
        table = classification_report([list(s) for s in gold], [list(s) for s in pred], mode="strict",
                                      scheme=getattr(seqeval_scheme, target), output_dict=True,
                                      zero_division=0)
    micro = table.get("micro avg", {"precision": 0.0, "recall": 0.0, "f1-score": 0.0})
    per_type = {name: {"precision": float(row["precision"]), "recall": float(row["recall"]),
                       "f1": float(row["f1-score"]), "support": int(row["support"])}
                for name, row in sorted(table.items()) if not name.endswith(" avg")}
    return {"precision": float(micro["precision"]), "recall": float(micro["recall"]),
            "f1": float(micro["f1-score"]), "per_type": per_type}


def entity_counts(gold, pred, scheme: str) -> tuple[int, int, int]:
    """(gold entities, predicted entities, exact matches), strict for the scheme."""
    n_gold = n_pred = n_correct = 0
    for g, p in zip(gold, pred):
        gs, ps = set(strict_spans(g, scheme)), set(strict_spans(p, scheme))
        n_gold, n_pred, n_correct = n_gold + len(gs), n_pred + len(ps), n_correct + len(gs & ps)
    return n_gold, n_pred, n_correct


def prf(n_gold: int, n_pred: int, n_correct: int) -> dict[str, float]:
    precision = n_correct / n_pred if n_pred else 0.0
    recall = n_correct / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def quick_f1(gold, pred, scheme: str) -> dict[str, float]:
    """Entity (or, for scheme none, token) P/R/F1 without seqeval: for validation during
    training, where speed matters. Tests check it equals seqeval's strict scores."""
    if scheme == "none":
        accuracy = token_scores(gold, pred)["f1"]
        return {"precision": accuracy, "recall": accuracy, "f1": accuracy}
    return prf(*entity_counts(gold, pred, scheme))


def entity_confusion(gold, pred, scheme: str) -> dict[str, Any]:
    """Each gold entity is correct, a type error (same span, other type), a boundary error
    (overlapping span of its type), both, or missed; predictions overlapping no gold entity
    are spurious. `type_errors` counts gold->predicted type pairs of same-span errors."""
    by_type: dict[str, Counter] = {}
    type_errors: Counter = Counter()
    totals = Counter()
    for g, p in zip(gold, pred):
        gs, ps = strict_spans(g, scheme), strict_spans(p, scheme)
        pset = set(ps)
        for span in gs:
            kind = classify_gold(span, ps, pset)
            by_type.setdefault(span[0], Counter())[kind] += 1
            if kind == "type_error":
                other = next(q for q in ps if q[1:] == span[1:])
                type_errors[f"{span[0]}->{other[0]}"] += 1
        for span in ps:
            if not any(overlaps(span, q) for q in gs):
                by_type.setdefault(span[0], Counter())["spurious"] += 1
        totals.update({"gold": len(gs), "pred": len(ps), "correct": len(set(gs) & pset)})
    rows = {name: {k: counts.get(k, 0) for k in (*ERROR_KINDS, "spurious")}
            for name, counts in sorted(by_type.items())}
    return {"entities": {"gold": totals["gold"], "predicted": totals["pred"], "correct": totals["correct"]},
            "confusion": {"by_type": rows, "type_errors": dict(sorted(type_errors.items()))}}


def classify_gold(span, predicted, predicted_set) -> str:
    if span in predicted_set:
        return "correct"
    near = [q for q in predicted if overlaps(span, q)]
    if any(q[1:] == span[1:] for q in near):
        return "type_error"
    if any(q[0] == span[0] for q in near):
        return "boundary_error"
    return "type_and_boundary" if near else "missed"


def overlaps(a, b) -> bool:
    return a[1] < b[2] and b[1] < a[2]


def token_scores(gold, pred) -> dict[str, Any]:
    """Per-tag token precision/recall/F1; micro F1 equals token accuracy."""
    true, guessed, hit = Counter(), Counter(), Counter()
    for gs, ps in zip(gold, pred):
        for g, p in zip(gs, ps):
            true[g] += 1
            guessed[p] += 1
            hit[g] += g == p
    per_type = {tag: {**prf(true[tag], guessed[tag], hit[tag]), "support": true[tag]}
                for tag in sorted(true | guessed)}
    accuracy = sum(hit.values()) / max(1, sum(true.values()))
    return {"mode": "token level (no span scheme)", "precision": accuracy, "recall": accuracy,
            "f1": accuracy, "per_type": per_type}
