"""Sequence tagging (many-to-many, equal length): NER and any BIO-style span labelling,
or plain per-token tags (POS).

Training reads CoNLL columns, detects the tag scheme (or takes --scheme), converts span
tags to BIOES internally (its explicit ends give the CRF more to learn from), trains a
BiLSTM-CRF, and keeps the checkpoint with the best validation entity F1. Predictions are
converted back to the input's scheme (or another one) on the way out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from rnncli.batching import bucketed_batches, epoch_generator, inference_batches
from rnncli.checkpoint import fingerprint, load_weights, read_config
from rnncli.errors import ConfigError, DataError
from rnncli.models.tagger import Tagger, TaggerConfig
from rnncli.readers.conll import column_index, read_conll, separator
from rnncli.runtime import move_to, pick_device, seed_everything
from rnncli.schemes import (SPAN_SCHEMES, convert, detect_scheme, entity_types, is_span_tag,
                            labels_for, normalise_scheme)
from rnncli.tasks.common import (check_out_dir, checkpoint_config, open_checkpoint, resolve_options,
                                 run_training, tokenizer_dir)
from rnncli.tasks.tag_data import (Encoded, build_vocabularies, encode, make_batch, model_inputs,
                                   singletons)
from rnncli.metrics.tagging import quick_f1
from rnncli.tokenizer import Tokenizer, load_tokenizer
from rnncli.training import Notice, TrainJob

TASK = "tag"
INTERNAL = "bioes"
TASK_DEFAULTS: dict[str, Any] = {
    "tokenizer": "word", "embed": 100, "hidden": 100, "layers": 1, "dropout": 0.5,
    "bidirectional": True, "batch_size": 32, "lr": 2e-3, "weight_decay": 0.0, "clip_norm": 5.0,
    "warmup": 50, "epochs": 50, "schedule": "cosine",
    "word_column": 1, "tag_column": -1, "sep": "space", "scheme": None, "char_encoder": "cnn",
    "char_embed": 30, "char_features": 50, "min_freq": 1, "word_dropout": 0.5, "lowercase": True,
    "crf": True, "embeddings": None, "valid": None,
}
EVAL_BATCH = 256


def internal_scheme(scheme: str) -> str:
    return INTERNAL if scheme in SPAN_SCHEMES else "none"


def read_tagged(path, options: dict[str, Any]):
    return read_conll(path, column_index(options["word_column"], "word-column"),
                      column_index(options["tag_column"], "tag-column"), separator(options["sep"]))


def choose_scheme(sentences, given: str | None, path) -> str:
    tags = [s.tags for s in sentences]
    if given is None:
        return detect_scheme(tags)
    scheme = normalise_scheme(given)
    if scheme != "none":
        for sentence in sentences:
            bad = next((t for t in sentence.tags if not is_span_tag(t)), None)
            if bad is not None:
                raise DataError.at(path, sentence.line, f"tag {bad!r} is not a {scheme.upper()} tag "
                                                        "(use --scheme none for tags without spans)")
    return scheme


def build_model(options: dict[str, Any], words: Tokenizer, chars: Tokenizer, labels: list[str],
                scheme: str) -> Tagger:
    return Tagger(TaggerConfig(
        num_words=words.vocab_size, num_chars=chars.vocab_size, labels=labels, scheme=scheme,
        embed=options["embed"], char_embed=options["char_embed"], char_features=options["char_features"],
        char_encoder=options["char_encoder"], cell=options["cell"], hidden=options["hidden"],
        layers=options["layers"], bidirectional=options["bidirectional"], dropout=options["dropout"],
        crf=options["crf"]))


def tag_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    total = model(*model_inputs(batch), tags=batch["tags"])
    sentences = batch["words"].size(0)
    return total / sentences, sentences


@torch.no_grad()
def predict_ids(model: Tagger, data: Encoded, device: torch.device, batch_size: int = EVAL_BATCH,
                modes: Sequence[str] = ("constrained",), probabilities: bool = False) -> dict[str, list]:
    """Label ids per sentence for each mode ("constrained", "unconstrained"), in input
    order; with `probabilities`, also each sentence's (T, L) label probabilities."""
    lengths = data.lengths
    results: dict[str, list] = {mode: [[] for _ in lengths] for mode in modes}
    if probabilities:
        results["probabilities"] = [torch.zeros(0, len(model.config.labels)) for _ in lengths]
    real = [i for i, n in enumerate(lengths) if n > 0]
    for group in inference_batches([lengths[i] for i in real], batch_size):
        indices = [real[i] for i in group]
        batch = move_to(make_batch(data, indices), device)
        emissions = model(*model_inputs(batch))
        for mode in modes:
            tags = model.decode(emissions, batch["lengths"], constrained=mode == "constrained").cpu()
            for row, index in enumerate(indices):
                results[mode][index] = tags[row, : lengths[index]].tolist()
        if probabilities:
            probs = model.probabilities(emissions, batch["lengths"]).cpu()
            for row, index in enumerate(indices):
                results["probabilities"][index] = probs[row, : lengths[index]]
    return results


def train_tag(given: dict[str, Any], train_path: Path, valid_path: Path, out: Path,
              resume: bool) -> Iterator[Any]:
    """Train a tagger; yields training events (see training.py)."""
    check_out_dir(out, resume)
    options = resolve_options({**given, "valid": str(valid_path)}, TASK_DEFAULTS, out, resume)
    train_sents = read_tagged(train_path, options)
    valid_sents = read_tagged(options["valid"], options)
    scheme = choose_scheme(train_sents, options["scheme"], train_path)
    inner = internal_scheme(scheme)
    train_tags = [convert(s.tags, scheme, inner) for s in train_sents]
    valid_tags = [convert(s.tags, scheme, inner) for s in valid_sents]
    data = {"train": fingerprint(train_path), "valid": fingerprint(options["valid"])}
    saved = read_config(out) if resume else None
    if saved is not None:
        from rnncli.tasks.common import check_same_data

        check_same_data(saved["data"], data)
    seed_everything(options["seed"])
    train_words = [s.words for s in train_sents]
    lowercase = options["lowercase"]
    if saved is not None:
        words, chars = load_tokenizer(tokenizer_dir(out, "words")), load_tokenizer(tokenizer_dir(out, "chars"))
        labels = saved["model"]["labels"]
    else:
        words, chars = build_vocabularies(train_words, options["min_freq"], options["vocab_size"], lowercase)
        labels = (labels_for(entity_types(t for s in train_tags for t in s), inner) if inner != "none"
                  else sorted({t for s in train_tags for t in s}))
    label_index = {label: i for i, label in enumerate(labels)}
    train_data = encode(train_words, words, chars, lowercase, train_tags, label_index,
                        singletons(train_words, lowercase))
    valid_data = encode([s.words for s in valid_sents], words, chars, lowercase)
    model = build_model(options, words, chars, labels, inner)
    if options["embeddings"] and saved is None:
        yield Notice(load_pretrained(model, options["embeddings"], words))
    yield Notice(f"tag scheme {scheme.upper() if scheme != 'none' else 'none (no spans)'}; "
                 f"{len(train_sents):,} training sentences, {len(valid_sents):,} validation sentences, "
                 f"{len(labels)} labels, {words.vocab_size:,} words")

    def evaluate(model, device):
        predicted = predict_ids(model, valid_data, device)["constrained"]
        return quick_f1(valid_tags, [[labels[i] for i in seq] for seq in predicted], inner)

    batch_size, seed, dropout = options["batch_size"], options["seed"], options["word_dropout"]
    cache: dict[int, list] = {}

    def epoch_batches(epoch: int) -> list[dict[str, torch.Tensor]]:
        if epoch not in cache:  # a pure function of the epoch, so caching the last one is safe
            generator = epoch_generator(seed, epoch)
            groups = bucketed_batches(train_data.lengths, seed, epoch, max_sentences=batch_size)
            cache.clear()
            cache[epoch] = [make_batch(train_data, g, generator, dropout) for g in groups]
        return cache[epoch]

    job = TrainJob(model=model, loss=tag_loss, epoch_batches=epoch_batches, evaluate=evaluate,
                   metric="f1", maximize=True, unit="sentences")
    config = checkpoint_config(TASK, options, model.config.to_dict(), data, scheme=scheme,
                               tokenizers={"words": words.describe(), "chars": chars.describe()})

    def save_files(directory: Path) -> None:
        words.save(ensure(tokenizer_dir(directory, "words")))
        chars.save(ensure(tokenizer_dir(directory, "chars")))

    writer = open_checkpoint(out, config, save_files, resume)
    yield from run_training(job, options, out, writer, resume)


def ensure(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def load_pretrained(model: Tagger, path: str, words) -> str:
    from rnncli.embeddings import load_vectors

    vectors, dim = load_vectors(path, words.index)
    if dim != model.config.embed:
        raise ConfigError(f"{path}: vectors have {dim} dimensions but --embed is {model.config.embed}; "
                          f"use --embed {dim}")
    with torch.no_grad():
        for index, vector in vectors.items():
            model.embedding.weight[index] = torch.tensor(vector)
    return f"pretrained vectors for {len(vectors):,} of {words.vocab_size:,} words from {path}"


@dataclass
class LoadedTagger:
    model: Tagger
    words: Tokenizer
    chars: Tokenizer
    config: dict[str, Any]
    device: torch.device

    @property
    def scheme(self) -> str:
        return self.config["scheme"]

    @property
    def labels(self) -> list[str]:
        return self.model.config.labels

    @property
    def inner(self) -> str:
        return self.model.config.scheme

    def encode(self, sentences: Sequence[Sequence[str]]) -> Encoded:
        return encode(sentences, self.words, self.chars, self.config["options"]["lowercase"])

    def predict(self, sentences: Sequence[Sequence[str]], batch_size: int = EVAL_BATCH,
                modes: Sequence[str] = ("constrained",), probabilities: bool = False) -> dict[str, list]:
        """Label strings (internal scheme) per mode, plus probabilities if asked."""
        ids = predict_ids(self.model, self.encode(sentences), self.device, batch_size, modes, probabilities)
        return {mode: ([[self.labels[i] for i in seq] for seq in value] if mode in modes else value)
                for mode, value in ids.items()}


def load_tagger(checkpoint: Path | str, device_name: str = "auto") -> LoadedTagger:
    checkpoint = Path(checkpoint)
    config = read_config(checkpoint, TASK)
    words = load_tokenizer(tokenizer_dir(checkpoint, "words"))
    chars = load_tokenizer(tokenizer_dir(checkpoint, "chars"))
    model = Tagger(TaggerConfig(**config["model"]))
    load_weights(checkpoint, model)
    device = pick_device(device_name)
    return LoadedTagger(model.to(device).eval(), words, chars, config, device)


def evaluate_tagger(checkpoint: Path, path: Path, device_name: str = "auto", batch_size: int = EVAL_BATCH,
                    scheme: str | None = None) -> dict[str, Any]:
    """Score a checkpoint on a tagged CoNLL file (the checkpoint's column settings)."""
    from rnncli.metrics.tagging import tagging_report

    tagger = load_tagger(checkpoint, device_name)
    sentences = read_tagged(path, tagger.config["options"])
    gold_scheme = choose_scheme(sentences, scheme or (tagger.scheme if tagger.scheme == "none" else None), path)
    if (gold_scheme == "none") != (tagger.scheme == "none"):
        gold_scheme = tagger.scheme
    result = tagger.predict([s.words for s in sentences], batch_size, ("constrained", "unconstrained"))
    predicted = [convert(p, tagger.inner, gold_scheme) for p in result["constrained"]]
    report = tagging_report([s.tags for s in sentences], predicted, gold_scheme)
    # What the model would break without the constraints, counted in its own scheme.
    from rnncli.schemes import count_invalid

    report["invalid_transitions"] = sum(count_invalid(p, tagger.inner) for p in result["unconstrained"])
    report["invalid_transitions_scheme"] = tagger.inner
    return report
