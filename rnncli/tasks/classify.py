"""Classification (many-to-one): labelled text -> tokenizer -> BiRNN + pooling -> one label.

Training reads TSV/CSV/JSONL/fastText files (readers/labelled.py), learns a tokenizer on
the training texts, and batches examples of similar length together (token budget and
sentence cap); the epoch's batches are a pure function of (seed, epoch) for exact resume.
Validation reports accuracy and macro-F1; the best checkpoint follows `--metric`. After
training, a temperature T is fitted on the validation scores of the best weights
(temperature scaling, rnncli/metrics/calibration.py) and stored in config.json; predicted
probabilities are softmax(logits / T), and `eval` reports their ECE.
Prediction sorts by length, runs in batches and writes results back by index, so output
order is input order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from rnncli.batching import bucketed_batches, inference_batches, pad
from rnncli.config import TrainConfig
from rnncli.errors import CheckpointError, ConfigError, DataError, UsageError
from rnncli.metrics.calibration import BINS, calibration_report, check_temperature, fit_temperature, reliability
from rnncli.metrics.classification import accuracy_and_macro_f1, classification_report
from rnncli.models.classifier import Classifier, ClassifierConfig
from rnncli.readers.labelled import Example, detect_format, read_labelled
from rnncli.tasks import transfer
from rnncli.tasks.base import Task, tokenizer_dir
from rnncli.tasks.classify_output import abstains, check_probability
from rnncli.tokenizer import UNK_ID, Tokenizer, load_tokenizer, train_tokenizer

EVAL_EVERY_CAP = 500           # default --eval-every: each epoch, or every 500 steps if sooner
PREDICT_BATCH = 256


def label_order(labels: set[str]) -> list[str]:
    """Labels sorted naturally: integers by value ("2" before "10"), then the rest by text."""
    def key(label: str) -> tuple:
        numeric = label.lstrip("-").isdigit()
        return (not numeric, int(label) if numeric else 0, label)
    return sorted(labels, key=key)


def encode_texts(tokenizer: Tokenizer, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids per text, cut to max_length; a text with no tokens becomes [<unk>]."""
    return [ids[:max_length] or [UNK_ID] for ids in tokenizer.encode_batch(list(texts))]


def class_weight_tensor(kind: str, label_ids: Sequence[int], num_labels: int) -> torch.Tensor | None:
    """'balanced': n / (k * count_c), as scikit-learn's compute_class_weight; 'none': None."""
    if kind not in ("none", "balanced"):
        raise ConfigError(f"--class-weights {kind!r} is not one of: none, balanced")
    if kind == "none":
        return None
    counts = torch.bincount(torch.tensor(list(label_ids), dtype=torch.long), minlength=num_labels).float()
    return len(label_ids) / (num_labels * counts.clamp(min=1))


def classify_loss(model, batch: dict[str, torch.Tensor],
                  weights: torch.Tensor | None = None) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy (weighted mean with class weights); units = sentences."""
    logits = model(batch["ids"], batch["lengths"])
    weight = weights.to(logits.device) if weights is not None else None
    return F.cross_entropy(logits.float(), batch["labels"], weight=weight), int(batch["labels"].numel())


def make_batch(sequences: list[list[int]], labels: torch.Tensor, indices: list[int]) -> dict[str, torch.Tensor]:
    ids, lengths = pad([sequences[i] for i in indices])
    return {"ids": ids, "lengths": lengths, "labels": labels[indices]}


@torch.no_grad()
def predict_logits(model: Classifier, sequences: Sequence[Sequence[int]], device: torch.device,
                   batch_size: int = PREDICT_BATCH, max_tokens: int | None = None) -> torch.Tensor:
    """Class scores (N, C) in float32 on the CPU, in input order (batches run longest first)."""
    model.eval()
    logits = torch.empty(len(sequences), model.config.num_labels)
    for indices in inference_batches([len(s) for s in sequences], batch_size, max_tokens):
        ids, lengths = pad([sequences[i] for i in indices])
        logits[indices] = model(ids.to(device), lengths.to(device)).float().cpu()
    return logits


def predict_probs(model: Classifier, sequences: Sequence[Sequence[int]], device: torch.device,
                  batch_size: int = PREDICT_BATCH, max_tokens: int | None = None,
                  temperature: float = 1.0) -> torch.Tensor:
    """Class probabilities (N, C) on the CPU, in input order: softmax(logits / temperature)."""
    return (predict_logits(model, sequences, device, batch_size, max_tokens) / temperature).softmax(dim=-1)


def fit_classifier_temperature(logits: torch.Tensor, gold: Sequence[int]) -> dict[str, Any]:
    """Temperature scaling on validation scores: the T minimising the mean NLL of the gold
    labels, with the NLL and ECE before and after. Examples whose label the model lacks
    (--allow-unseen-labels) have no score to calibrate and are left out."""
    known = [i for i, g in enumerate(gold) if g < logits.size(1)]
    logits, target = logits[known], torch.tensor([gold[i] for i in known], dtype=torch.long)

    def nll(temperature: float) -> float:
        return float(F.cross_entropy(logits / temperature, target))

    def ece(temperature: float) -> float:
        confidence, predicted = (logits / temperature).softmax(-1).max(-1)
        return reliability(confidence.tolist(), (predicted == target).tolist()).ece

    temperature = round(fit_temperature(nll), 6) if known else 1.0
    return {"temperature": temperature, "method": "temperature scaling (1-D search over log T "
            "minimising validation NLL)", "examples": len(known),
            "validation_nll": {"before": nll(1.0), "after": nll(temperature)} if known else None,
            "validation_ece": {"before": ece(1.0), "after": ece(temperature), "bins": BINS} if known else None}


def checkpoint_temperature(config: dict[str, Any], where) -> float:
    """The temperature stored by training; 1.0 for checkpoints written before calibration."""
    try:
        return check_temperature((config.get("calibration") or {}).get("temperature"), str(where))
    except (ValueError, AttributeError) as exc:
        raise CheckpointError(str(exc)) from None


def check_labels(train: list[Example], valid: list[Example], valid_path, allow_unseen: bool) -> list[str]:
    """The label set (from training); unseen validation labels are an error unless allowed."""
    labels = label_order({e.label for e in train})
    known = set(labels)
    unseen = [e for e in valid if e.label not in known]
    if unseen and not allow_unseen:
        first = unseen[0]
        raise DataError.at(valid_path, first.line, f"label {first.label!r} never occurs in the training data "
                                                   f"({len(unseen)} such example(s)); fix the data or pass "
                                                   "--allow-unseen-labels")
    return labels


class ClassifyTask(Task):
    name, metric, maximize, unit = "classify", "accuracy", True, "sentences"
    model_class, model_config = Classifier, ClassifierConfig

    def __init__(self, settings, train, saved=None):
        super().__init__(settings, train, saved)
        self.metric = settings.metric   # the best checkpoint follows --metric

    def read_data(self, sources) -> None:
        s = self.settings
        read = dict(fmt=s.format, text_field=s.text_field, label_field=s.label_field)
        self.train_set = read_labelled(sources["train"], **read)
        self.valid_set = read_labelled(sources["valid"], **read)
        self.labels = check_labels(self.train_set, self.valid_set, sources["valid"], s.allow_unseen_labels)
        self.data_format = detect_format(sources["train"], s.format)

    @classmethod
    def fresh_settings(cls, settings, train, given):
        if train.init_from is None:
            return settings
        lm = transfer.lm_options(train.init_from)
        return transfer.adopt_lm_settings(settings, train.init_from, given,
                                          {"tokenizer": lm.get("tokenizer"), "vocab_size": lm.get("vocab_size")})

    def build_tokenizers(self) -> Tokenizer:
        if self.train.init_from is not None:   # the LM's embedding rows mean the LM's pieces
            return transfer.lm_tokenizer(self.train.init_from)
        return train_tokenizer(self.settings.tokenizer, [e.text for e in self.train_set], self.settings.vocab_size)

    @classmethod
    def load_tokenizers(cls, directory: Path, config: dict[str, Any]) -> Tokenizer:
        return load_tokenizer(tokenizer_dir(directory))

    def build_model(self) -> Classifier:
        s, labels = self.settings, self.labels
        if s.tie_embeddings:
            raise ConfigError("--tie-embeddings: a classifier has no output layer over the vocabulary to tie")
        index = {label: i for i, label in enumerate(labels)}
        self.train_ids = encode_texts(self.vocab, [e.text for e in self.train_set], s.max_length)
        self.train_labels = torch.tensor([index[e.label] for e in self.train_set])
        self.valid_ids = encode_texts(self.vocab, [e.text for e in self.valid_set], s.max_length)
        # unseen validation labels (allowed) get indices past the model's: always counted wrong
        self.unseen = label_order({e.label for e in self.valid_set} - set(labels))
        index.update({label: len(labels) + i for i, label in enumerate(self.unseen)})
        self.valid_gold = [index[e.label] for e in self.valid_set]
        self.weights = class_weight_tensor(s.class_weights, self.train_labels.tolist(), len(labels))
        self.lengths = [len(ids) for ids in self.train_ids]
        self.cached: tuple[int, list] | None = None
        self.notes.append(f"{len(self.train_set):,} training and {len(self.valid_set):,} validation examples, "
                          f"{len(labels)} labels, {s.tokenizer} tokenizer of {self.vocab.vocab_size:,} pieces")
        model = Classifier(ClassifierConfig(
            vocab_size=self.vocab.vocab_size, num_labels=len(labels), embed=s.embed, hidden=s.hidden,
            layers=s.layers, cell=s.cell, bidirectional=s.bidirectional, dropout=s.dropout,
            layer_norm=s.layer_norm, pooling=s.pooling))
        if self.train.init_from is not None and self.saved is None:   # resume: weights come from the state
            transfer.copy_encoder(model, transfer.load_lm(self.train.init_from))
            self.notes.append(f"embedding and {s.layers}-layer {s.cell} encoder start from the language model "
                              f"{self.train.init_from}" + (" (forward direction; backward fresh)"
                                                           if s.bidirectional else ""))
        return model

    def layer_plan(self, model):
        return transfer.layer_plan(model, self.train)

    def adjust_training(self, train: TrainConfig) -> TrainConfig:
        if train.eval_every is not None:
            return train
        return dataclasses.replace(train, eval_every=max(1, min(EVAL_EVERY_CAP, len(self.epoch_batches(0)))))

    def epoch_batches(self, epoch: int) -> list[dict[str, torch.Tensor]]:
        if self.cached is None or self.cached[0] != epoch:   # the loop asks twice for an epoch
            groups = bucketed_batches(self.lengths, self.train.seed, epoch, self.settings.max_tokens,
                                      self.train.batch_size)
            self.cached = (epoch, [make_batch(self.train_ids, self.train_labels, g) for g in groups])
        return self.cached[1]

    def loss(self, model, batch):
        return classify_loss(model, batch, self.weights)

    def evaluate(self, model, device) -> dict[str, float]:
        predicted = predict_probs(model, self.valid_ids, device).argmax(dim=-1).tolist()
        return accuracy_and_macro_f1(self.valid_gold, predicted, len(self.labels) + len(self.unseen))

    def after_training(self, model, device) -> dict[str, Any]:
        fitted = fit_classifier_temperature(predict_logits(model, self.valid_ids, device), self.valid_gold)
        if fitted["validation_nll"] is not None:
            nll, ece = fitted["validation_nll"], fitted["validation_ece"]
            self.notes.append(f"calibration: temperature {fitted['temperature']:.3f} fitted on the validation set "
                              f"(NLL {nll['before']:.4f} -> {nll['after']:.4f}, ECE {ece['before']:.4f} -> "
                              f"{ece['after']:.4f}); classify reports probabilities at this temperature")
        return {"calibration": fitted}

    def describe(self) -> dict[str, Any]:
        # data_format: what the training file was read as, for eval files whose name says nothing
        return {"labels": self.labels, "data_format": self.data_format, "tokenizer": self.vocab.describe(),
                "class_weights": None if self.weights is None else self.weights.tolist(),
                **transfer.describe_init(self.train.init_from if self.saved is None else None)}

    def save_files(self, directory: Path) -> None:
        self.vocab.save(tokenizer_dir(directory))

    @classmethod
    def load(cls, checkpoint, device: str = "auto", **options):
        if options:
            raise UsageError(f"a classifier takes no loading option {sorted(options)[0]!r}")
        config, *parts = cls.load_parts(checkpoint, device)
        checkpoint_temperature(config, Path(checkpoint) / "config.json")   # damage named by its path
        return TextClassifier(config, *parts)


@dataclass
class Prediction:
    """A label (None: abstained under min_prob), its probability, and the best `top_k`
    (label, probability) pairs."""

    label: str | None
    probability: float
    top_k: list[tuple[str, float]]


def abstention_report(confidences: Sequence[float], correct: Sequence[bool], min_prob: float) -> dict[str, Any]:
    """Selective prediction at --min-prob P: the predictions at or above P are covered
    (kept); coverage is their share and covered_accuracy their accuracy (None when no
    prediction is covered)."""
    check_probability(min_prob)
    kept = [right for confidence, right in zip(confidences, correct, strict=True) if confidence >= min_prob]
    total = len(correct)
    return {"min_prob": min_prob, "coverage": len(kept) / total if total else 0.0, "covered": len(kept),
            "abstained": total - len(kept),
            "covered_accuracy": sum(kept) / len(kept) if kept else None}


class TextClassifier:
    """A trained classifier ready for inference."""

    task = "classify"

    def __init__(self, config: dict[str, Any], tokenizer: Tokenizer, model: Classifier, device: torch.device):
        self.config, self.tokenizer, self.model, self.device = config, tokenizer, model, device
        self.labels = list(config["labels"])
        self.max_input_tokens = int(config["options"]["max_length"])   # as in training, unless set
        self.cropped = 0   # texts cut to max_input_tokens so far
        # Probabilities are softmax(logits / temperature); set it to 1.0 for the raw scores.
        self.temperature = checkpoint_temperature(config, "config.json")

    def classify(self, lines: str | Sequence[str], top_k: int = 1, batch_size: int = PREDICT_BATCH,
                 min_prob: float | None = None) -> list[Prediction]:
        """One Prediction per text, in input order; below `min_prob` its label is None
        (abstained), its probability and top_k kept."""
        texts = [lines] if isinstance(lines, str) else list(lines)
        if min_prob is not None:
            check_probability(min_prob)
        if not texts:
            return []
        values, indices = self.predict(texts, batch_size).topk(min(top_k, len(self.labels)), dim=-1)
        results = []
        for scores, ids in zip(values.tolist(), indices.tolist()):
            ranked = [(self.labels[i], p) for i, p in zip(ids, scores)]
            label = None if abstains(ranked[0][1], min_prob) else ranked[0][0]
            results.append(Prediction(label, ranked[0][1], ranked))
        return results

    def predict(self, texts: Sequence[str], batch_size: int = PREDICT_BATCH) -> torch.Tensor:
        """Probabilities (N, C) for texts, in input order, at the calibrated temperature."""
        return (self.logits(texts, batch_size) / self.temperature).softmax(dim=-1)

    def logits(self, texts: Sequence[str], batch_size: int = PREDICT_BATCH) -> torch.Tensor:
        """Scores (N, C) for texts; a text is cut to its first `max_input_tokens` tokens, as
        training cut them."""
        ids = self.tokenizer.encode_batch(list(texts))
        limit = self.max_input_tokens
        self.cropped += sum(len(x) > limit for x in ids)
        return predict_logits(self.model, [x[:limit] or [UNK_ID] for x in ids], self.device, batch_size)

    def evaluate(self, data: Sequence[str], batch_size: int = PREDICT_BATCH, min_prob: float | None = None,
                 **options: Any) -> dict[str, Any]:
        """The full report on a labelled file read with the training run's format and fields
        (the format falls back to the training one when the extension says nothing). With
        `min_prob`, also coverage and accuracy of the predictions whose (calibrated)
        probability reaches it (abstention_report), as top-level numbers."""
        from rnncli.readers.labelled import EXTENSIONS

        if len(data) != 1:
            raise UsageError("a classifier is evaluated on one labelled file: rnncli eval CKPT FILE")
        if min_prob is not None:
            check_probability(min_prob)
        path, saved = data[0], self.config["options"]
        known = Path(str(path)).suffix.lower() in EXTENSIONS
        fmt = None if known else saved.get("format") or self.config.get("data_format")
        examples = read_labelled(path, fmt, saved.get("text_field"), saved.get("label_field"))
        logits = self.logits([e.text for e in examples], batch_size)
        predicted = logits.argmax(dim=-1).tolist()
        unseen = label_order({e.label for e in examples} - set(self.labels))
        labels = self.labels + unseen           # gold labels the model cannot predict go last
        index = {label: i for i, label in enumerate(labels)}
        gold = [index[e.label] for e in examples]
        report = classification_report(gold, predicted, labels)
        correct = [p == g for p, g in zip(predicted, gold)]
        confidences = (logits / self.temperature).softmax(-1).max(-1).values.tolist()
        calibration = calibration_report(confidences, logits.softmax(-1).max(-1).values.tolist(), correct,
                                         self.temperature, "examples", "probability of the predicted label")
        selective = abstention_report(confidences, correct, min_prob) if min_prob is not None else {}
        return {"data": str(path), **report, "ece": calibration["ece"], **selective, "calibration": calibration,
                "unseen_labels": unseen}


TASK = ClassifyTask
