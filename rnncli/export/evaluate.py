"""`rnncli eval OUT DATA` on an export artifact: rnncli's own scoring code (the task's
predictor `evaluate`) with the predictions taken from the artifact's runner, so the figures
are those of the checkpoint whenever the predictions are (the export's parity check).
Classify and tag; translate and lm artifacts are scored through their checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from rnncli.errors import CheckpointError, UsageError


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


def evaluate_artifact(directory: str | Path, data: list[str], **options: Any) -> tuple[str, dict[str, Any]]:
    """(task, report) as `rnncli eval` on the checkpoint would give."""
    from rnncli.export import load_runner
    from rnncli.export.artifact import read_manifest

    directory = Path(directory)
    task = read_manifest(directory)["task"]
    if task not in ("classify", "tag"):
        raise UsageError(f"{directory}: eval of an exported {task} model is not supported; "
                         f"evaluate its checkpoint {read_manifest(directory)['checkpoint']['path']}")
    runner = load_runner(directory)
    batch_size = options.get("batch_size") or 256
    if task == "classify":
        return task, exported_classifier(directory, runner).evaluate(data, batch_size)
    return task, exported_tagger(directory, runner).evaluate(data, batch_size, options.get("scheme"))
