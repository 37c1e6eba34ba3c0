"""Calibration: expected calibration error, the reliability table, and temperature scaling.

ECE (Guo et al., 2017) over BINS = 15 equal-width confidence bins: bin b holds the
predictions whose confidence lies in (b/15, (b+1)/15] (a confidence of exactly 0 goes to
the first bin), and

    ECE = sum over bins of  count_b / n * |accuracy_b - mean confidence_b|

The reliability table lists every bin, empty ones too (their confidence and accuracy are
None), so a script always finds 15 rows.

Temperature scaling divides a model's scores by one number T fitted on validation data
by minimising the negative log-likelihood. The fit here is a 1-D search over log T (a
grid, then golden-section refinement in the best grid cell): it needs only a function
T -> NLL, so the same code fits a softmax classifier and a CRF's token marginals, is
deterministic, and cannot diverge the way LBFGS on a badly scaled problem can.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

BINS = 15
T_MIN, T_MAX = 0.05, 20.0      # the search range; a fit at an end is reported as such
GRID = 13                      # grid points over log T (T = 1 among them), then golden-section
GOLDEN_STEPS = 12              # steps: 27 evaluations, each a pass over the validation scores


@dataclass(frozen=True)
class Reliability:
    """Per-bin statistics and the ECE they give."""

    ece: float
    bins: list[dict]
    count: int

    def to_dict(self) -> dict:
        return {"ece": self.ece, "bins": BINS, "binning": "equal-width", "count": self.count,
                "reliability": self.bins}


def reliability(confidences: Sequence[float], correct: Sequence[bool], bins: int = BINS) -> Reliability:
    """ECE and the reliability table of predictions with these confidences (in [0, 1])
    and outcomes. No predictions: ECE 0 and every bin empty."""
    totals = [[0, 0.0, 0] for _ in range(bins)]     # count, summed confidence, correct
    for confidence, right in zip(confidences, correct, strict=True):
        # rounded first, so that 2/15 * 15 = 2.0000000000000004 stays on its bin's upper edge
        index = min(bins - 1, max(0, math.ceil(round(confidence * bins, 9)) - 1))
        cell = totals[index]
        cell[0] += 1
        cell[1] += confidence
        cell[2] += bool(right)
    n = sum(cell[0] for cell in totals)
    ece, rows = 0.0, []
    for index, (count, summed, hits) in enumerate(totals):
        confidence = summed / count if count else None
        accuracy = hits / count if count else None
        if count:
            ece += count / n * abs(accuracy - confidence)
        rows.append({"lower": round(index / bins, 6), "upper": round((index + 1) / bins, 6),
                     "confidence": confidence, "accuracy": accuracy, "count": count})
    return Reliability(ece, rows, n)


def fit_temperature(nll: Callable[[float], float], low: float = T_MIN, high: float = T_MAX) -> float:
    """The T in [low, high] that minimises nll(T), searched over log T.

    The grid keeps the search from settling in a poor local minimum (a CRF's token NLL in
    T need not be convex); golden-section steps then narrow the best cells to about 0.3% in T."""
    lo, hi = math.log(low), math.log(high)
    points = [lo + (hi - lo) * i / (GRID - 1) for i in range(GRID)]
    values = [nll(math.exp(p)) for p in points]
    best = min(range(GRID), key=lambda i: (values[i], abs(points[i])))   # ties: nearest T=1
    a, b = points[max(0, best - 1)], points[min(GRID - 1, best + 1)]
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(math.exp(c)), nll(math.exp(d))
    for _ in range(GOLDEN_STEPS):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(math.exp(d))
    candidates = [(values[best], points[best]), (fc, c), (fd, d)]
    return math.exp(min(candidates)[1])


def check_temperature(value, where: str) -> float:
    """A stored temperature: a finite positive number (absent: 1.0, as before calibration)."""
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where}: temperature {value!r} is not a positive number")
    return float(value)


def calibration_report(confidences: Sequence[float], raw_confidences: Sequence[float],
                       correct: Sequence[bool], temperature: float, unit: str, confidence: str) -> dict:
    """What `eval` reports: the ECE and reliability table at the model's temperature, and
    the ECE the uncalibrated scores (T = 1) would have on the same predictions (dividing
    scores by T > 0 never changes which label is predicted, only how sure it looks)."""
    calibrated = reliability(confidences, correct)
    return {**calibrated.to_dict(), "temperature": temperature,
            "ece_uncalibrated": reliability(raw_confidences, correct).ece, "unit": unit,
            "confidence": confidence}
