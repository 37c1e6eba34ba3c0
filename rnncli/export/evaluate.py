"""`rnncli eval OUT DATA` on an export artifact: rnncli's own scoring code (the task's
predictor `evaluate`) with the predictions taken from the artifact's runner, so the figures
are those of the checkpoint whenever the predictions are (the export's parity check).

    classify   label probabilities from the artifact -> accuracy, F1, calibration
    tag        tags from the artifact (Viterbi in the module or in runner.py) -> seqeval F1
    translate  beam search of the artifact (TorchScript module, or runner.py over the ONNX
               encoder/step graphs) -> BLEU, chrF, TER (sacrebleu, as for the checkpoint)
    lm         log-probabilities of the artifact (TorchScript `log_probs`, or the ONNX step
               graph one token at a time) -> tasks.lm's stream scoring: perplexity, nats
The text is tokenized by the runner (as it ships); output text is detokenized and the
scores computed by rnncli's own code, on the tokenizer files the artifact carries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from rnncli.errors import CheckpointError, UsageError

TASKS = ("classify", "tag", "translate", "lm", "forecast")


def source_config(directory: Path) -> dict[str, Any]:
    path = directory / "checkpoint_config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable ({type(exc).__name__})") from None


def exported_classifier(directory: Path, runner):
    import torch

    from rnncli.tasks.classify import TextClassifier

    class ExportedClassifier(TextClassifier):
        def predict(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
            return torch.from_numpy(runner.probabilities(list(texts), batch_size))

        def logits(self, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
            """Scores with the artifact's softmax (at the calibration temperature T) undone:
            T * log p is the logits less a per-row constant, which no softmax, argmax or
            calibration figure sees (equal to rounding)."""
            return self.predict(texts, batch_size).log() * self.temperature

    return ExportedClassifier(source_config(directory), None, None, torch.device("cpu"))


def exported_tagger(directory: Path, runner):
    import torch

    from rnncli.tasks.tag_output import SequenceTagger

    class ExportedTagger(SequenceTagger):
        labels = runner.labels
        inner = runner.manifest["inner_scheme"]

        def predict(self, sentences, batch_size=256, modes=("constrained",), probabilities=False, limit=None):
            """SequenceTagger.predict: long sentences in pieces, tags joined."""
            if probabilities:
                raise UsageError("an exported tagger gives no label probabilities")
            limit = self.input_limit(limit)
            pieces, owners = [], []
            for index, words in enumerate(sentences):
                for start in range(0, max(1, len(words)), limit):
                    pieces.append(list(words[start:start + limit]))
                    owners.append(index)
            results: dict[str, list] = {mode: [[] for _ in sentences] for mode in modes}
            for mode in modes:
                ids, _ = runner.tag_ids(pieces, batch_size, constrained=mode == "constrained")
                for owner, seq in zip(owners, ids):
                    results[mode][owner].extend(self.labels[i] for i in seq)
            return results

        def evaluate(self, data, batch_size=256, scheme=None, **options):
            """SequenceTagger.evaluate without the calibration figures (ece): an artifact
            decodes tags, it does not compute CRF marginals."""
            from rnncli.metrics.tagging import tagging_report
            from rnncli.schemes import convert, count_invalid
            from rnncli.tasks.tag import choose_scheme, read_tagged

            if len(data) != 1:
                raise UsageError("a tagger is evaluated on one CoNLL file: rnncli eval OUT FILE")
            sentences = read_tagged(data[0], self.config["options"])
            gold_scheme = choose_scheme(sentences, scheme or (self.scheme if self.scheme == "none" else None), data[0])
            if (gold_scheme == "none") != (self.scheme == "none"):
                gold_scheme = self.scheme
            result = self.predict([s.words for s in sentences], batch_size, ("constrained", "unconstrained"))
            predicted = [convert(p, self.inner, gold_scheme) for p in result["constrained"]]
            report = tagging_report([s.tags for s in sentences], predicted, gold_scheme)
            report["invalid_transitions"] = sum(count_invalid(p, self.inner) for p in result["unconstrained"])
            report["invalid_transitions_scheme"] = self.inner
            return {"data": str(data[0]), **report}

    return ExportedTagger(source_config(directory), None, None, None, torch.device("cpu"))


def exported_translator(directory: Path, runner):
    import torch

    from rnncli.decoding.greedy import Hypothesis
    from rnncli.tasks.translate import TranslateTask
    from rnncli.tasks.translate_output import Translator, joined_hypothesis

    class ExportedTranslator(Translator):
        def hypotheses(self, lines, settings, attention=False):
            """Translator.hypotheses with the artifact's search: a line over the input limit is
            cut into pieces and its result is the pieces' best outputs joined."""
            if attention:
                raise UsageError("an exported translator keeps no attention weights")
            limit = self.input_limit(settings)
            pieces, owners = [], []
            for index, line in enumerate(lines):
                ids = runner.src.encode(line) + [3] if line.strip() else None   # 3: </s>
                body = ids[:-1] if ids is not None else []
                self.split_lines += len(body) > limit
                for start in range(0, max(1, len(body)), limit):
                    pieces.append(None if ids is None else body[start:start + limit] + ids[-1:])
                    owners.append(index)
            found = runner.search(pieces, beam=settings.beam, n_best=settings.n_best,
                                  length_penalty=settings.length_penalty, max_ratio=settings.max_ratio,
                                  max_extra=settings.max_extra, beam_stop=settings.beam_stop,
                                  batch_size=settings.batch_size)
            grouped: list[list] = [[] for _ in lines]
            for owner, hyps in zip(owners, found):
                grouped[owner].append([Hypothesis(list(t), score, log_prob) for t, score, log_prob in hyps])
            return [parts[0] if len(parts) == 1 else [joined_hypothesis(parts)] for parts in grouped]

    config = source_config(directory)
    src_tok, tgt_tok = TranslateTask.load_tokenizers(directory, config)
    return ExportedTranslator(config, src_tok, tgt_tok, None, torch.device("cpu"))


class ArtifactLM:
    """What tasks.lm.stream_nats calls as its model: ids (B, T) and a state in, next-token
    log-probabilities (B, T, V) and the state out, from the artifact: the TorchScript
    module's `log_probs`, or the ONNX step graph fed one token at a time."""

    def __init__(self, runner):
        self.runner = runner

    def __call__(self, ids, lengths, state):
        import numpy as np
        import torch

        runner = self.runner
        if not runner.onnx:
            h, c = state if state is not None else (None, None)
            with torch.inference_mode():
                log_probs, h, c = runner.module.log_probs(ids, h, c)
            return log_probs, (h, c)
        x = ids.numpy()
        if state is None:
            layers, hidden = runner.state_shape
            state = [np.zeros((layers, x.shape[0], hidden), dtype=np.float32)] * (2 if runner.lstm else 1)
        ones, steps = np.ones(x.shape[0], dtype=np.int64), []
        for t in range(x.shape[1]):
            logits, state = runner.run(np.ascontiguousarray(x[:, t:t + 1]), ones, state)
            steps.append(torch.from_numpy(logits).log_softmax(-1))
        return torch.stack(steps, dim=1), state


def evaluate_lm(directory: Path, runner, data: list[str]) -> dict[str, Any]:
    """TextGenerator.evaluate on the artifact's log-probabilities."""
    from rnncli.tasks.lm import LMTask, evaluate_text

    if len(data) != 1:
        raise UsageError("a language model is evaluated on one text file: rnncli eval OUT FILE")
    config = source_config(directory)
    tokenizer = LMTask.load_tokenizers(directory, config)
    return evaluate_text(ArtifactLM(runner), tokenizer, config, "cpu", data[0])


def check_options(directory: Path, task: str, decode, device: str) -> None:
    """Options an artifact cannot honour: one-line usage errors, not silently ignored."""
    if task not in TASKS:
        raise UsageError(f"{directory}: eval of an exported {task} model is not supported (rnncli export "
                         f"writes {', '.join(TASKS)} artifacts)")
    if device not in ("auto", "cpu"):
        raise UsageError(f"--device {device}: an exported artifact runs on the CPU (its runner.py); "
                         "evaluate the checkpoint for other devices")
    if decode is not None and (decode.int8 or decode.shortlist):
        flag = "--int8" if decode.int8 else "--shortlist"
        raise UsageError(f"{flag}: export artifacts are fp32 with the full vocabulary; evaluate the checkpoint "
                         f"with {flag}")


def evaluate_artifact(directory: str | Path, data: list[str], decode=None, device: str = "auto",
                      **options: Any) -> tuple[str, dict[str, Any]]:
    """(task, report) as `rnncli eval` on the checkpoint would give (decode: the
    DecodeSettings of a translator)."""
    from rnncli.config import DecodeSettings
    from rnncli.export import load_runner
    from rnncli.export.artifact import read_manifest

    directory = Path(directory)
    task = read_manifest(directory)["task"]
    check_options(directory, task, decode, device)
    runner = load_runner(directory)
    batch_size = options.get("batch_size") or 256
    if task == "classify":
        return task, exported_classifier(directory, runner).evaluate(data, batch_size)
    if task == "tag":
        return task, exported_tagger(directory, runner).evaluate(data, batch_size, options.get("scheme"))
    if task == "translate":
        return task, exported_translator(directory, runner).evaluate(data, decode or DecodeSettings())
    if task == "forecast":
        from rnncli.export.forecast import exported_forecaster

        backtest = {k: options[k] for k in ("horizon", "folds", "baselines") if options.get(k) is not None}
        return task, exported_forecaster(directory, runner).evaluate(data, **backtest)
    return task, evaluate_lm(directory, runner, data)
