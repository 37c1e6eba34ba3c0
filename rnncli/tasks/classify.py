"""Classification (many-to-one): labelled text -> tokenizer -> BiRNN + pooling -> one label.

Training reads TSV/CSV/JSONL/fastText files (readers/labelled.py), learns a tokenizer on
the training texts, and batches examples of similar length together (token budget and
sentence cap); the epoch's batches are a pure function of (seed, epoch) for exact resume.
Validation reports accuracy and macro-F1; the best checkpoint follows `--metric`.
Prediction sorts by length, runs in batches and writes results back by index, so output
order is input order.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
import torch.nn.functional as F

from rnncli.batching import bucketed_batches, inference_batches, pad
from rnncli.checkpoint import fingerprint, load_weights, read_config
from rnncli.errors import ConfigError, DataError
from rnncli.metrics.classification import accuracy_and_macro_f1, classification_report
from rnncli.models.classifier import Classifier, ClassifierConfig
from rnncli.readers.labelled import Example, detect_format, read_labelled
from rnncli.runtime import pick_device, seed_everything
from rnncli.tasks.common import (check_out_dir, check_same_data, checkpoint_config, open_checkpoint,
                                 resolve_options, run_training, tokenizer_dir)
from rnncli.tokenizer import UNK_ID, Tokenizer, load_tokenizer, train_tokenizer
from rnncli.training import Notice, TrainJob

TASK = "classify"
METRICS = ("accuracy", "macro_f1")
CLASS_WEIGHTS = ("none", "balanced")
# Chosen on SST-2 with 2 CPU cores (see bench/bench_classify.py): a one-layer BiLSTM with
# max pooling over sentencepiece unigram pieces, evaluated twice an epoch there.
TASK_DEFAULTS: dict[str, Any] = {
    "tokenizer": "unigram", "vocab_size": 16000, "embed": 128, "hidden": 128, "layers": 1,
    "bidirectional": True, "dropout": 0.3, "batch_size": 64, "lr": 2e-3, "warmup": 100,
    "epochs": 10,
    # classification's own options
    "format": None, "text_field": None, "label_field": None, "pooling": "max",
    "class_weights": "none", "allow_unseen_labels": False, "metric": "accuracy",
    "max_length": 400, "max_tokens": None,
}
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
    if kind not in CLASS_WEIGHTS:
        raise ConfigError(f"--class-weights {kind!r} is not one of: {', '.join(CLASS_WEIGHTS)}")
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


class EpochBatches:
    """epoch -> that epoch's padded batches; the latest epoch is kept (the loop asks twice)."""

    def __init__(self, sequences: list[list[int]], labels: torch.Tensor, seed: int,
                 batch_size: int, max_tokens: int | None):
        self.sequences, self.labels, self.seed = sequences, labels, seed
        self.batch_size, self.max_tokens = batch_size, max_tokens
        self.lengths = [len(s) for s in sequences]
        self.cached: tuple[int, list] | None = None

    def __call__(self, epoch: int) -> list[dict[str, torch.Tensor]]:
        if self.cached is None or self.cached[0] != epoch:
            groups = bucketed_batches(self.lengths, self.seed, epoch, self.max_tokens, self.batch_size)
            self.cached = (epoch, [make_batch(self.sequences, self.labels, g) for g in groups])
        return self.cached[1]


@torch.no_grad()
def predict_probs(model: Classifier, sequences: Sequence[Sequence[int]], device: torch.device,
                  batch_size: int = PREDICT_BATCH, max_tokens: int | None = None) -> torch.Tensor:
    """Class probabilities (N, C) on the CPU, in input order (batches run longest first)."""
    model.eval()
    probs = torch.empty(len(sequences), model.config.num_labels)
    for indices in inference_batches([len(s) for s in sequences], batch_size, max_tokens):
        ids, lengths = pad([sequences[i] for i in indices])
        logits = model(ids.to(device), lengths.to(device))
        probs[indices] = logits.float().softmax(dim=-1).cpu()
    return probs


def check_labels(train: list[Example], valid: list[Example], valid_path: Path,
                 allow_unseen: bool) -> list[str]:
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


def build_model(options: dict[str, Any], vocab_size: int, num_labels: int) -> Classifier:
    return Classifier(ClassifierConfig(
        vocab_size=vocab_size, num_labels=num_labels, embed=options["embed"], hidden=options["hidden"],
        layers=options["layers"], cell=options["cell"], bidirectional=options["bidirectional"],
        dropout=options["dropout"], layer_norm=options["layer_norm"], pooling=options["pooling"]))


def check_options(options: dict[str, Any]) -> None:
    if options["metric"] not in METRICS:
        raise ConfigError(f"--metric {options['metric']!r} is not one of: {', '.join(METRICS)}")
    if options["max_length"] < 1:
        raise ConfigError(f"--max-length must be positive, got {options['max_length']}")
    class_weight_tensor(options["class_weights"], [], 1)  # validates the name


def train_classify(given: dict[str, Any], train_path: Path, valid_path: Path, out: Path,
                   resume: bool) -> Iterator[Any]:
    """Train a classifier; yields training events (see training.py)."""
    check_out_dir(out, resume)
    options = resolve_options({**given, "valid": str(valid_path)}, {**TASK_DEFAULTS, "valid": None},
                              out, resume)
    check_options(options)
    read = dict(fmt=options["format"], text_field=options["text_field"], label_field=options["label_field"])
    train, valid = read_labelled(train_path, **read), read_labelled(options["valid"], **read)
    labels = check_labels(train, valid, Path(options["valid"]), options["allow_unseen_labels"])
    data = {"train": fingerprint(train_path), "valid": fingerprint(options["valid"])}
    if resume:
        check_same_data(read_config(out)["data"], data)
    seed_everything(options["seed"])
    texts = [e.text for e in train]
    tokenizer = (load_tokenizer(tokenizer_dir(out)) if resume else
                 train_tokenizer(options["tokenizer"], texts, options["vocab_size"]))
    index = {label: i for i, label in enumerate(labels)}
    train_ids = encode_texts(tokenizer, texts, options["max_length"])
    train_labels = torch.tensor([index[e.label] for e in train])
    valid_ids = encode_texts(tokenizer, [e.text for e in valid], options["max_length"])
    # unseen validation labels (allowed) get indices past the model's: always counted wrong
    unseen = label_order({e.label for e in valid} - set(labels))
    index.update({label: len(labels) + i for i, label in enumerate(unseen)})
    valid_gold = [index[e.label] for e in valid]
    weights = class_weight_tensor(options["class_weights"], train_labels.tolist(), len(labels))
    model = build_model(options, tokenizer.vocab_size, len(labels))
    batches = EpochBatches(train_ids, train_labels, options["seed"], options["batch_size"], options["max_tokens"])
    if options["eval_every"] is None and not resume:
        options["eval_every"] = max(1, min(EVAL_EVERY_CAP, len(batches(0))))
    yield Notice(f"{len(train):,} training and {len(valid):,} validation examples, {len(labels)} labels, "
                 f"{options['tokenizer']} tokenizer of {tokenizer.vocab_size:,} pieces")

    def evaluate(model, device):
        predicted = predict_probs(model, valid_ids, device).argmax(dim=-1).tolist()
        return accuracy_and_macro_f1(valid_gold, predicted, len(labels) + len(unseen))

    job = TrainJob(model=model, loss=lambda m, b: classify_loss(m, b, weights), epoch_batches=batches,
                   evaluate=evaluate, metric=options["metric"], maximize=True, unit="sentences")
    # data_format: what the training file was read as, for eval files whose name says nothing
    config = checkpoint_config(TASK, options, model.config.to_dict(), data, labels=labels,
                               data_format=detect_format(train_path, options["format"]),
                               tokenizer=tokenizer.describe(),
                               class_weights=None if weights is None else weights.tolist())
    writer = open_checkpoint(out, config, lambda d: tokenizer.save(tokenizer_dir(d)), resume)
    yield from run_training(job, options, out, writer, resume)


@dataclass
class LoadedClassifier:
    """A trained classifier ready for inference."""

    model: Classifier
    tokenizer: Tokenizer
    labels: list[str]
    config: dict[str, Any]
    device: torch.device

    def predict(self, texts: Sequence[str], batch_size: int = PREDICT_BATCH) -> torch.Tensor:
        """Probabilities (N, C) for texts, in input order."""
        ids = encode_texts(self.tokenizer, texts, self.config["options"]["max_length"])
        return predict_probs(self.model, ids, self.device, batch_size)


def load_classifier(checkpoint: Path, device_name: str = "auto") -> LoadedClassifier:
    config = read_config(checkpoint, TASK)
    tokenizer = load_tokenizer(tokenizer_dir(checkpoint))
    model = Classifier(ClassifierConfig.from_dict(config["model"]))
    load_weights(checkpoint, model)
    device = pick_device(device_name)
    return LoadedClassifier(model.to(device).eval(), tokenizer, list(config["labels"]), config, device)


def evaluate_classifier(checkpoint: Path, path: Path, device_name: str = "auto",
                        batch_size: int = PREDICT_BATCH) -> dict[str, Any]:
    """The full report on a labelled file read with the training run's format and fields
    (the format falls back to the training one when the extension says nothing)."""
    from rnncli.readers.labelled import EXTENSIONS

    loaded = load_classifier(checkpoint, device_name)
    saved = loaded.config["options"]
    known = Path(path).suffix.lower() in EXTENSIONS
    fmt = None if known else saved.get("format") or loaded.config.get("data_format")
    examples = read_labelled(path, fmt, saved.get("text_field"), saved.get("label_field"))
    predicted = loaded.predict([e.text for e in examples], batch_size).argmax(dim=-1).tolist()
    unseen = label_order({e.label for e in examples} - set(loaded.labels))
    labels = loaded.labels + unseen           # gold labels the model cannot predict go last
    index = {label: i for i, label in enumerate(labels)}
    report = classification_report([index[e.label] for e in examples], predicted, labels)
    return {"data": str(path), **report, "unseen_labels": unseen}
