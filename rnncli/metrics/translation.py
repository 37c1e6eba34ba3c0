"""Translation scores through sacrebleu: BLEU, chrF and TER with their signatures, and a
bootstrap 95% confidence interval for BLEU (sacrebleu's own resampling, fixed seed).

Scores are on sacrebleu's 0-100 scale. `refs` is a list of reference streams, each as long
as `hyps` (sacrebleu's layout), so several references per sentence are supported.
"""

from __future__ import annotations

from typing import Sequence

BOOTSTRAP_SAMPLES = 1000


def translation_scores(hyps: Sequence[str], refs: Sequence[Sequence[str]],
                       bootstrap: int = BOOTSTRAP_SAMPLES) -> dict:
    """-> {"bleu", "chrf", "ter", "bleu_ci": [low, high], "bleu_details", "signatures"}."""
    from sacrebleu.metrics import BLEU, CHRF, TER

    hyps, refs = list(hyps), [list(r) for r in refs]
    bleu_metric, chrf_metric, ter_metric = BLEU(), CHRF(), TER()
    bleu = bleu_metric.corpus_score(hyps, refs)
    chrf = chrf_metric.corpus_score(hyps, refs)
    ter = ter_metric.corpus_score(hyps, refs)
    report = {"bleu": round(bleu.score, 4), "chrf": round(chrf.score, 4), "ter": round(ter.score, 4),
              "bleu_ci": None, "sentences": len(hyps),
              "bleu_details": {"precisions": [round(p, 4) for p in bleu.precisions], "bp": round(bleu.bp, 4),
                               "sys_len": bleu.sys_len, "ref_len": bleu.ref_len},
              "signatures": {"bleu": str(bleu_metric.get_signature()),
                             "chrf": str(chrf_metric.get_signature()),
                             "ter": str(ter_metric.get_signature())}}
    if bootstrap > 1 and len(hyps) > 1:
        report["bleu_ci"], report["signatures"]["bleu_ci"] = bleu_interval(hyps, refs, bootstrap)
    return report


def bleu_interval(hyps: list[str], refs: list[list[str]], samples: int) -> tuple[list[float], str]:
    """95% bootstrap interval [low, high] of corpus BLEU (sacrebleu's mean +- half-width),
    and the signature, which records the sample count and seed."""
    from sacrebleu.metrics import BLEU

    metric = BLEU()
    resampled = metric.corpus_score(hyps, refs, n_bootstrap=samples)
    mean, half = resampled._mean, resampled._ci  # set by sacrebleu's estimate_ci
    return [round(mean - half, 4), round(mean + half, 4)], str(metric.get_signature())
