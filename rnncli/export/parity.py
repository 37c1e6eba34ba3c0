"""The side-by-side check that is part of every export: the exported model (run through
the artifact's own runner.py, as a user would) against rnncli's predictor on the same
inputs, with the exact-output match rate, the largest probability/score difference and
the speed of each.

    classify   labels (argmax) must match; difference: label probabilities
    tag        tags must match, constrained and unconstrained; difference: emission scores
    translate  best hypotheses' tokens must match; difference: length-penalised scores
    lm         sampled tokens must match (TorchScript: same seed, torch's generator; ONNX:
               greedy, numpy has another generator); difference: next-token probabilities
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

DEFAULT_LINES = {"classify": 200, "tag": 200, "translate": 100, "lm": 20}
LM_CHECK_TOKENS, LM_PROMPT_CHARS, LM_SEED = 32, 16, 0


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def report(units: str, matched: int, total: int, max_diff: float, diff_of: str, items: int,
           eager_s: float, exported_s: float, speed_unit: str) -> dict[str, Any]:
    return {"items": items, "units": units, "matched": matched, "total": total,
            "match_rate": matched / total if total else 1.0, "max_diff": float(max_diff), "diff_of": diff_of,
            "speed_unit": speed_unit,
            "rnncli_per_s": round(items / eager_s, 1) if eager_s > 0 else None,
            "exported_per_s": round(items / exported_s, 1) if exported_s > 0 else None}


def check_classify(predictor, artifact, texts: Sequence[str], **_) -> dict[str, Any]:
    eager, eager_s = timed(lambda: predictor.predict(list(texts)).numpy())
    exported, exported_s = timed(lambda: artifact.probabilities(list(texts)))
    matched = int((eager.argmax(-1) == exported.argmax(-1)).sum())
    diff = float(np.abs(eager - exported).max()) if len(texts) else 0.0
    return report("labels", matched, len(texts), diff, "probability", len(texts), eager_s, exported_s,
                  "sentences/s")


def check_tag(predictor, artifact, sentences: Sequence[Sequence[str]], **_) -> dict[str, Any]:
    import torch

    sentences = [list(s) for s in sentences]
    modes = ("constrained", "unconstrained")
    eager, eager_s = timed(lambda: predictor.predict(sentences, modes=modes))
    exported, exported_s = timed(lambda: [artifact.tag_ids(sentences, constrained=m == "constrained") for m in modes])
    labels = predictor.labels
    matched = total = 0
    for mode, (ids, _) in zip(modes, exported):
        for gold, got in zip(eager[mode], ids):
            matched += sum(a == labels[b] for a, b in zip(gold, got)) if len(gold) == len(got) else 0
            total += len(gold)
    diff = 0.0
    real = [s for s in sentences if s]
    with torch.inference_mode():
        for first in range(0, len(real), 256):   # eager emissions on the runner's own inputs
            chunk = real[first:first + 256]
            inputs = artifact.batch_inputs(chunk)
            scores = predictor.model(*(torch.from_numpy(x) for x in inputs)).float().numpy()
            _, theirs = artifact.tag_ids(chunk)
            for row, sentence in enumerate(chunk):
                diff = max(diff, float(np.abs(scores[row, : len(sentence)] - theirs[row]).max()))
    return report("tags", matched, total, diff, "emission score", len(sentences), eager_s / 2, exported_s / 2,
                  "sentences/s")


def check_translate(predictor, artifact, lines: Sequence[str], decode=None, **_) -> dict[str, Any]:
    from rnncli.config import DecodeSettings

    settings = DecodeSettings(**{**(decode or DecodeSettings()).to_dict(), "n_best": 1})
    eager, eager_s = timed(lambda: predictor.hypotheses(list(lines), settings))
    exported, exported_s = timed(lambda: artifact.hypotheses(
        list(lines), beam=settings.beam, n_best=1, length_penalty=settings.length_penalty,
        max_ratio=settings.max_ratio, max_extra=settings.max_extra, beam_stop=settings.beam_stop,
        batch_size=settings.batch_size))
    matched, diff = 0, 0.0
    for gold, got in zip(eager, exported):
        if [h.tokens for h in gold] == [h[0] for h in got]:
            matched += 1
            diff = max([diff, *(abs(h.score - g[1]) for h, g in zip(gold, got))])
    return report(f"sentences (beam {settings.beam})", matched, len(lines), diff, "length-penalised score",
                  len(lines), eager_s, exported_s, "sentences/s")


def check_lm(predictor, artifact, lines: Sequence[str], onnx: bool = False, **_) -> dict[str, Any]:
    import torch
    from rnncli.config import GenerateSettings

    settings = GenerateSettings(max_tokens=LM_CHECK_TOKENS, temperature=0.0 if onnx else GenerateSettings.temperature)
    prompts = [line[:LM_PROMPT_CHARS] for line in lines]

    def eager_run():
        return [[int(x[0]) for x in predictor.sampling([predictor.prompt_ids(p)], settings, predictor.rng(LM_SEED)[0])]
                for p in prompts]

    eager, eager_s = timed(eager_run)
    exported, exported_s = timed(lambda: [artifact.sample_ids(p, max_tokens=settings.max_tokens,
                                                              temperature=settings.temperature, top_k=settings.top_k,
                                                              top_p=settings.top_p, seed=LM_SEED) for p in prompts])
    matched = sum(sum(a == b for a, b in zip(x, y)) for x, y in zip(eager, exported))
    diff = 0.0
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([predictor.prompt_ids(prompt)])
            logits, _ = predictor.model(ids, torch.tensor([ids.size(1)]))
            probs = logits[0, -1].float().softmax(-1).numpy()
            diff = max(diff, float(np.abs(probs - artifact.next_probs(prompt)).max()))
    return report("sampled tokens" + (" (greedy)" if onnx else f" (seed {LM_SEED})"), matched,
                  LM_CHECK_TOKENS * len(prompts), diff, "next-token probability", len(prompts), eager_s, exported_s,
                  "samples/s")


CHECKS = {"classify": check_classify, "tag": check_tag, "translate": check_translate, "lm": check_lm}


def check_inputs(task: str, config: dict[str, Any], path: str, limit: int) -> list:
    """The first `limit` inputs of a check file, read as the task's data is read."""
    from pathlib import Path

    from rnncli.readers.text import read_lines

    if task == "classify":
        from rnncli.readers.labelled import EXTENSIONS, read_labelled

        saved = config["options"]
        known = Path(path).suffix.lower() in EXTENSIONS
        fmt = None if known else saved.get("format") or config.get("data_format")
        return [e.text for e in read_labelled(path, fmt, saved.get("text_field"), saved.get("label_field"))][:limit]
    if task == "tag":
        from rnncli.tasks.tag import read_tagged

        return [s.words for s in read_tagged(path, config["options"])][:limit]
    lines = read_lines(path, allow_empty=True)
    return [line for line in lines if line.strip()][:limit] if task == "lm" else lines[:limit]


def default_check_file(config: dict[str, Any], checkpoint) -> str | None:
    """The validation file recorded in the checkpoint (translate: its source side)."""
    data = config.get("data", {})
    entry = data.get("valid_src" if config["task"] == "translate" else "valid") or \
        (data.get("train") if config["task"] == "lm" else None)
    return entry.get("path") if isinstance(entry, dict) else None
