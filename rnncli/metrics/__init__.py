"""Metrics: thin wrappers over sacrebleu/seqeval and small hand-written scores.

One module per task family (classification.py, tagging.py, translation.py; a language
model's nats and perplexity are computed where it is scored, in tasks/lm.py); this file
holds what every `rnncli eval` shares: the `--fail-under METRIC=VALUE` gate.
"""

from __future__ import annotations

import math
from typing import Any

from rnncli.errors import ThresholdError, UsageError


def parse_fail_under(specs: list[str], above: bool = False) -> list[tuple[str, float, bool]]:
    """["accuracy=0.8", "f1=0.5"] -> [("accuracy", 0.8, False), ...]; bad syntax -> UsageError.
    above=True (--fail-over): the gate fails when the metric is above its value.

    The value must be finite: every comparison with nan is false, so `accuracy=nan` could
    never fail, and an infinite gate always or never fails whatever the model does."""
    gates = []
    option = "--fail-over" if above else "--fail-under"
    for spec in specs:
        name, sep, value = spec.partition("=")
        try:
            if not sep or not name.strip():
                raise ValueError
            threshold = float(value)
        except ValueError:
            raise UsageError(f"{option} {spec!r}: expected METRIC=VALUE, e.g. accuracy=0.8") from None
        if not math.isfinite(threshold):
            raise UsageError(f"{option} {spec!r}: the value must be a finite number, e.g. "
                             "accuracy=0.8")
        gates.append((name.strip(), threshold, above))
    return gates


def check_fail_under(report: dict[str, Any], gates: list[tuple[str, float, bool]]) -> None:
    """Raise ThresholdError (exit 3) when a gated metric is worse than its value.

    Metrics are the top-level numbers of the report (the same keys as its JSON). For
    metrics where lower is better (perplexity, nats, TER, the forecast errors) --fail-under
    means "fail above", and --fail-over says so explicitly for any metric.
    """
    failures = []
    for name, threshold, above in gates:
        value = report.get(name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            available = sorted(k for k, v in report.items()
                               if isinstance(v, (int, float)) and not isinstance(v, bool))
            option = "--fail-over" if above else "--fail-under"
            raise UsageError(f"{option} {name}: no such metric here; available: {', '.join(available)}")
        if above or name in LOWER_IS_BETTER:
            if value > threshold:
                failures.append(f"{name} {value:.4g} > {threshold:g}")
        elif value < threshold:
            failures.append(f"{name} {value:.4g} < {threshold:g}")
    if failures:
        raise ThresholdError("--fail-under not met: " + "; ".join(failures))


LOWER_IS_BETTER = frozenset({"perplexity", "nats_per_token", "nats_per_char", "bits_per_char", "ter",
                             "loss", "mae", "rmse", "mase", "smape", "quantile_loss", "scaled_quantile_loss",
                             "skill", "ece"})
