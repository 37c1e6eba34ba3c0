"""Tagging scores: entity precision/recall/F1 through seqeval's strict mode for the
scheme, a per-type table, an entity confusion that separates type errors from boundary
errors, and invalid-transition counts. For tag sets without spans (scheme "none", e.g.
part of speech) the scores are per-token.

Scores are fractions in [0, 1]. IOB1 is scored as the IOB2 it converts to (seqeval's
strict mode has no faithful IOB1 reader), and the report says so in `mode`.

`compare_tag_files` scores two files that may each use their own span scheme: the same
entities written in IOB1 and in IOB2 must score as equal, not as a pile of boundary
errors, so predictions in another span scheme are converted to the gold's (through their
spans) and the report says so in `converted`.
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any, Sequence

from rnncli.errors import UsageError
from rnncli.schemes import (SCHEMES, best_scheme, convert, count_invalid, fitting_scheme,
                            is_span_tag, normalise_scheme, scheme_fit, strict_spans)

SEQEVAL_SCHEME = {"iob1": "IOB2", "iob2": "IOB2", "bioes": "IOBES"}
ERROR_KINDS = ("correct", "type_error", "boundary_error", "type_and_boundary", "missed")


def tagging_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str) -> dict[str, Any]:
    """The full report for sentences of gold and predicted tags (same lengths)."""
    if scheme != "none":
        check_tags_fit(gold, pred, scheme)
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


def compare_tag_files(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]],
                      scheme: str | None = None, gold_name: str = "gold",
                      pred_name: str = "pred") -> dict[str, Any]:
    """`tagging_report` for gold and predicted tag files, each in its own scheme.

    `scheme` is the gold's scheme when known (the user's --scheme, or what
    `schemes.detect_file_scheme` found); else it is detected. "none" scores tokens as they
    are. Predictions in another span scheme are converted to the gold's through their
    spans (`invalid_transitions` then counts them in their own scheme); span tags against
    tags without spans is a UsageError, as is a different number of sentences or tokens."""
    if len(gold_tags) != len(pred_tags) or any(len(g) != len(p) for g, p in zip(gold_tags, pred_tags)):
        raise UsageError(f"{pred_name} and {gold_name} differ in their number of sentences or tokens")
    gold_scheme = normalise_given(scheme) if scheme else tag_set_scheme(gold_tags)
    if gold_scheme == "none" and scheme:
        return tagging_report(gold_tags, pred_tags, "none")
    pred_scheme = fitting_scheme(pred_tags, prefer=gold_scheme if gold_scheme != "none" else None)
    if pred_scheme is None or pred_scheme == gold_scheme:
        return tagging_report(gold_tags, pred_tags, gold_scheme)
    if "none" in (gold_scheme, pred_scheme):
        raise UsageError(mixed_span_message(gold_tags, pred_tags, gold_scheme, gold_name, pred_name))
    converted = [convert(tags, pred_scheme, gold_scheme) for tags in pred_tags]
    report = tagging_report(gold_tags, converted, gold_scheme)
    report["invalid_transitions"] = sum(count_invalid(tags, pred_scheme) for tags in pred_tags)
    report["converted"] = f"pred {pred_scheme} -> {gold_scheme}"
    return report


def normalise_given(scheme: str) -> str:
    try:
        return normalise_scheme(scheme)
    except ValueError:
        raise UsageError(f"--scheme {scheme!r} is not one of: {', '.join(SCHEMES)}") from None


def tag_set_scheme(sequences: Sequence[Sequence[str]]) -> str:
    """A file's scheme without raising: "none" unless every tag has the span form, bioes
    if an E-/S- tag occurs (no other scheme can read one), else the better of IOB1/IOB2."""
    tags = {t for s in sequences for t in s}
    if not all(is_span_tag(t) for t in tags):
        return "none"
    if any(t[0] in "ES" for t in tags):
        return "bioes"
    return best_scheme(scheme_fit(sequences))


def check_tags_fit(gold, pred, scheme: str) -> None:
    """Every tag must be one the scheme can score (seqeval raises a bare ValueError on the
    others): a UsageError naming the first that is not."""
    allowed = "BIES" if scheme == "bioes" else "BI"
    for side, sequences in (("gold", gold), ("predicted", pred)):
        distinct = dict.fromkeys(t for s in sequences for t in s)  # in order: the first is named
        bad = next((t for t in distinct if t != "O" and not (is_span_tag(t) and t[0] in allowed)), None)
        if bad is None:
            continue
        hint = "--scheme bioes" if is_span_tag(bad) else "--scheme none to score tokens"
        raise UsageError(f"{side} tag {bad!r} has no place in {scheme.upper()}; give {hint} (or leave "
                         "out --scheme to detect it)")


def mixed_span_message(gold_tags, pred_tags, gold_scheme: str, gold_name: str, pred_name: str) -> str:
    """Which file has spans and which has a tag without the span form (named)."""
    def first_odd(sequences) -> str:
        return next((repr(t) for s in sequences for t in s if not is_span_tag(t)), "")
    if gold_scheme == "none":
        return (f"{gold_name} has tags without spans (such as {first_odd(gold_tags)}) but {pred_name} "
                "has span tags; compare files of the same tag set, or give --scheme none")
    return (f"{pred_name} has tags without spans (such as {first_odd(pred_tags)}) but {gold_name} is "
            f"{gold_scheme.upper()}; compare files of the same tag set, or give --scheme none")


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
