"""Paired significance tests over units (sentences, series): rnncli's one resampler.

Every metric here is a function of statistics that add up over units: a sentence's
(gold entities, predicted entities, correct ones) for entity F1, an example's per-label
(gold, predicted, correct) one-hots for macro F1, a series' (MASE, 1) for
mean MASE, a sentence's n-gram counts for BLEU. A test takes each system's statistics as an
array (units x k) and a `score` that maps summed statistics (m x k) to m scores.

    paired bootstrap (method "paired_bs"): draw `resamples` samples of the units with
        replacement (numpy's default_rng(seed).choice, the draw sacrebleu's paired_bs makes,
        so for BLEU the two agree); score both systems on each. The 95% interval of the
        difference (system - baseline) is the 2.5th/97.5th order statistics of the resampled
        differences (sacrebleu's estimate_ci positions); the p-value of "no difference" is
        (#{ |d_i| - mean|d| >= |d| } + 1) / (resamples + 1), two-sided, as in sacrebleu.
    approximate randomization ("paired_ar"): swap the two systems' units with probability
        1/2, `resamples` times; p = (#{ |shuffled difference| >= |d| } + 1) / (resamples + 1).
        Its interval is the paired bootstrap's (same seed).

Ties count as "at least as extreme" (>=): two identical systems get p = 1. sacrebleu
counts only strictly greater values, which gives identical systems p = 1/(resamples+1);
on continuous scores (BLEU over real sentences) the two rules agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

ALPHA = 0.05
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 12345
METHODS = {"bs": "paired_bs", "ar": "paired_ar"}

Score = Callable[[np.ndarray], np.ndarray]   # (m, k) summed statistics -> (m,) scores


@dataclass(frozen=True)
class Comparison:
    """One system against the baseline on one metric."""

    metric: str
    baseline: str
    system: str
    baseline_score: float
    system_score: float
    difference: float            # system - baseline
    ci: tuple[float, float]      # 95% interval of the difference
    p_value: float
    resamples: int
    seed: int
    method: str                  # paired_bs | paired_ar
    higher_is_better: bool = True
    signature: str = ""

    def verdict(self, alpha: float = ALPHA) -> str:
        """"better", "worse" (the system against the baseline) or "same" (not significant)."""
        if self.p_value >= alpha or self.difference == 0:
            return "same"
        return "better" if (self.difference > 0) == self.higher_is_better else "worse"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["ci"] = list(self.ci)
        out["significant"] = self.verdict() != "same"
        out["verdict"] = self.verdict()
        return out


def check_settings(resamples: int, seed: int) -> None:
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, not {resamples}")
    if seed < 1:
        raise ValueError(f"seed must be a positive integer, not {seed}")


def bootstrap_indices(units: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, units) unit indices drawn with replacement: sacrebleu's draw."""
    return np.random.default_rng(seed).choice(units, size=(resamples, units), replace=True)


def bootstrap_counts(units: int, resamples: int, seed: int) -> np.ndarray:
    """(resamples, units): how often each unit is in each resample."""
    indices = bootstrap_indices(units, resamples, seed)
    offsets = indices + units * np.arange(resamples)[:, None]
    return np.bincount(offsets.ravel(), minlength=resamples * units).reshape(resamples, units)


def swap_masks(units: int, trials: int, seed: int) -> np.ndarray:
    """(trials, units) booleans: True where the two systems' units are swapped (sacrebleu's draw)."""
    return np.random.default_rng(seed).integers(2, size=(trials, units), dtype=bool)


def interval(values: np.ndarray) -> tuple[float, float]:
    """The 95% interval of resampled values (the order statistics sacrebleu's estimate_ci uses)."""
    ordered = np.sort(values)
    low = len(ordered) // 40
    return float(ordered[low]), float(ordered[len(ordered) - low - 1])


def p_value(null: np.ndarray, observed: float) -> float:
    return (int(np.sum(null >= observed)) + 1) / (len(null) + 1)


def full_scores(base: np.ndarray, system: np.ndarray, score: Score) -> tuple[float, float]:
    both = score(np.stack([base.sum(0), system.sum(0)]).astype(np.float64))
    return float(both[0]), float(both[1])


def bootstrap(base: np.ndarray, system: np.ndarray, score: Score, resamples: int, seed: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """Each system's scores on the same bootstrap resamples."""
    counts = bootstrap_counts(len(base), resamples, seed).astype(np.float64)
    return score(counts @ base), score(counts @ system)


def paired_test(base: np.ndarray, system: np.ndarray, score: Score, *, metric: str, names: tuple[str, str],
                resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, method: str = "bs",
                higher_is_better: bool = True) -> Comparison:
    """The paired test of `system` against `base` (arrays of per-unit statistics, units x k,
    the same units in the same order)."""
    check_settings(resamples, seed)
    base, system = np.asarray(base, dtype=np.float64), np.asarray(system, dtype=np.float64)
    if base.shape != system.shape or base.ndim != 2 or len(base) == 0:
        raise ValueError(f"paired statistics must have the same (units, k) shape: {base.shape} vs {system.shape}")
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of: {', '.join(METHODS)}")
    base_score, system_score = full_scores(base, system, score)
    observed = abs(system_score - base_score)
    scores_base, scores_system = bootstrap(base, system, score, resamples, seed)
    differences = scores_system - scores_base
    if method == "bs":
        spread = np.abs(differences)
        p = p_value(spread - spread.mean(), observed)
    else:
        swapped = swap_masks(len(base), resamples, seed).astype(np.float64)
        kept = 1.0 - swapped
        shuffled_a = score(kept @ base + swapped @ system)
        shuffled_b = score(swapped @ base + kept @ system)
        p = p_value(np.abs(shuffled_a - shuffled_b), observed)
    return Comparison(metric, names[0], names[1], base_score, system_score, system_score - base_score,
                      interval(differences), p, resamples, seed, METHODS[method], higher_is_better,
                      signature(METHODS[method], resamples, seed))


def signature(method: str, resamples: int, seed: int) -> str:
    return f"test:{method}|resamples:{resamples}|seed:{seed}|ci:95%"


# ---- the metrics rnncli resamples ------------------------------------------------------------
def f1_score(summed: np.ndarray) -> np.ndarray:
    """Entity F1 from summed (gold, predicted, correct) counts; 0 where undefined (seqeval's
    zero_division=0)."""
    gold, pred, correct = summed[:, 0], summed[:, 1], summed[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred > 0, correct / np.where(pred > 0, pred, 1), 0.0)
        recall = np.where(gold > 0, correct / np.where(gold > 0, gold, 1), 0.0)
        total = precision + recall
        return np.where(total > 0, 2 * precision * recall / np.where(total > 0, total, 1), 0.0)


def ratio_score(summed: np.ndarray) -> np.ndarray:
    """Summed (value, count) -> value / count (nan where no unit counts): a mean over units,
    such as token accuracy (correct, tokens) or mean MASE (mase, 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(summed[:, 1] > 0, summed[:, 0] / np.where(summed[:, 1] > 0, summed[:, 1], 1), np.nan)


def macro_f1_score(summed: np.ndarray) -> np.ndarray:
    """Macro F1 from summed per-label (gold, predicted, correct) counts, 3 columns per label:
    each label's F1 as f1_score computes it (zero_division=0), averaged over all labels, as
    metrics/classification.py's report does."""
    per_label = f1_score(summed.reshape(-1, 3))
    return per_label.reshape(len(summed), -1).mean(axis=1)


def label_statistics(gold: list[int], predicted: list[int | None], num_labels: int) -> np.ndarray:
    """(units, 3 x labels): per example a one-hot of its gold label, of its predicted label
    (none for an abstention, None) and of its correct one, for macro_f1_score."""
    units = len(gold)
    stats = np.zeros((units, num_labels, 3))
    rows = np.arange(units)
    stats[rows, gold, 0] = 1.0
    made = np.array([p is not None for p in predicted], dtype=bool)
    shown = np.array([p if p is not None else 0 for p in predicted], dtype=np.int64)
    stats[rows[made], shown[made], 1] = 1.0
    stats[:, :, 2] = stats[:, :, 0] * stats[:, :, 1]
    return stats.reshape(units, num_labels * 3)


def mean_statistics(values: list[float]) -> np.ndarray:
    """(value, 1) per unit for a mean over units, (0, 0) for a nan unit (skipped, as the
    reports' nanmean does)."""
    array = np.asarray(values, dtype=np.float64)
    finite = ~np.isnan(array)
    return np.stack([np.where(finite, array, 0.0), finite.astype(np.float64)], axis=1)


# ---- translation: sacrebleu's own paired tests -----------------------------------------------
SACREBLEU_METRICS = (("bleu", True), ("chrf", True), ("ter", False))


def translation_comparisons(systems: list[tuple[str, list[str]]], refs: list[list[str]], resamples: int,
                            seed: int, method: str = "bs") -> list[Comparison]:
    """BLEU, chrF and TER of each system against the first through sacrebleu's PairedTest
    (its scores, p-values and signatures); the 95% interval of each difference is rnncli's
    paired bootstrap over sacrebleu's sentence statistics, on the same resamples."""
    import os

    from sacrebleu.metrics import BLEU, CHRF, TER
    from sacrebleu.significance import PairedTest

    check_settings(resamples, seed)
    if method not in METHODS:
        raise ValueError(f"method {method!r} is not one of: {', '.join(METHODS)}")
    metrics = {"bleu": BLEU(), "chrf": CHRF(), "ter": TER()}
    saved = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)          # PairedTest reads its seed from here
    try:
        test = PairedTest(systems, dict(metrics), refs, test_type=method, n_samples=resamples)
        signatures, results = test()
    finally:
        if saved is None:
            os.environ.pop("SACREBLEU_SEED", None)
        else:
            os.environ["SACREBLEU_SEED"] = saved
    names = [n for n in results if n != "System"]       # sacrebleu's names (BLEU, chrF2, TER), in order
    comparisons = []
    for (key, higher), name in zip(SACREBLEU_METRICS, names):
        metric = metrics[key]
        stats = [np.asarray(metric._extract_corpus_statistics(hyps, refs), dtype=np.float64) for _, hyps in systems]
        base = results[name][0].score
        for index in range(1, len(systems)):
            result = results[name][index]
            base_scores, system_scores = bootstrap(stats[0], stats[index], sacrebleu_score(metric), resamples, seed)
            identical = systems[index][1] == systems[0][1]    # sacrebleu would say p = 1/(resamples+1)
            comparisons.append(Comparison(
                key, systems[0][0], systems[index][0], float(base), float(result.score),
                float(result.score - base), interval(system_scores - base_scores),
                1.0 if identical else float(result.p_value), resamples, seed, METHODS[method], higher,
                str(signatures[name])))
    return comparisons


def sacrebleu_score(metric) -> Score:
    """A sacrebleu metric as a Score (float32 statistics, as sacrebleu's own resampling)."""
    def score(summed: np.ndarray) -> np.ndarray:
        return np.array([metric._compute_score_from_stats(row).score for row in summed.astype(np.float32)])
    return score


# ---- the report ------------------------------------------------------------------------------
def comparison_report(task: str, systems: list[tuple[str, dict]], comparisons: list[Comparison],
                      primary: str, resamples: int, seed: int, method: str) -> dict:
    """The `eval --json` body of a comparison: each system's own report, every comparison,
    and per metric the winner: the best score, `significant` when it is significantly better
    than the baseline (or, being the baseline, when every other system is significantly worse)."""
    winners = {}
    for metric in dict.fromkeys(c.metric for c in comparisons):
        rows = [c for c in comparisons if c.metric == metric]
        sign = 1 if rows[0].higher_is_better else -1
        scored = [(rows[0].baseline, rows[0].baseline_score)] + [(c.system, c.system_score) for c in rows]
        best = max(scored, key=lambda item: sign * item[1])[0]
        if best == rows[0].baseline:
            significant = all(c.verdict() == "worse" for c in rows)
        else:
            significant = next(c for c in rows if c.system == best).verdict() == "better"
        winners[metric] = {"system": best, "significant": significant}
    return {"task": task, "comparison": True, "baseline": systems[0][0], "primary": primary,
            "method": METHODS[method], "resamples": resamples, "seed": seed, "alpha": ALPHA,
            "signature": signature(METHODS[method], resamples, seed),
            "systems": [{"name": name, "scores": report} for name, report in systems],
            "comparisons": [c.to_dict() for c in comparisons], "winner": winners}
