"""Sequence tagging (many-to-many, equal length): NER and any BIO-style span labelling,
or plain per-token tags (POS).

Training reads CoNLL columns, detects the tag scheme (or takes --scheme), converts span
tags to BIOES internally (its explicit ends give the CRF more to learn from), trains a
BiLSTM-CRF, and keeps the checkpoint with the best validation entity F1. Predictions are
converted back to the input's scheme (or another one) on the way out (tasks/tag_output.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from rnncli.batching import bucketed_batches, epoch_generator, inference_batches
from rnncli.errors import ConfigError, DataError, UsageError
from rnncli.metrics.tagging import quick_f1
from rnncli.models.tagger import Tagger, TaggerConfig
from rnncli.readers.conll import column_index, read_conll, separator
from rnncli.runtime import move_to
from rnncli.schemes import (SPAN_SCHEMES, convert, detect_file_scheme, entity_types, is_span_tag,
                            labels_for, normalise_scheme)
from rnncli.tasks.base import Task, tokenizer_dir
from rnncli.tasks.tag_data import Encoded, build_vocabularies, encode, make_batch, model_inputs, singletons
from rnncli.tokenizer import load_tokenizer

INTERNAL = "bioes"
EVAL_BATCH = 256


def internal_scheme(scheme: str) -> str:
    return INTERNAL if scheme in SPAN_SCHEMES else "none"


def read_tagged(path, options: dict[str, Any]):
    return read_conll(path, column_index(options["word_column"], "word-column"),
                      column_index(options["tag_column"], "tag-column"), separator(options["sep"]))


def choose_scheme(sentences, given: str | None, path) -> str:
    """The given scheme (each tag checked against it), or the one the file uses (a file
    that mixes schemes is an error naming the line)."""
    if given is None:
        return detect_file_scheme(sentences, path)
    try:
        scheme = normalise_scheme(given)
    except ValueError as exc:
        raise ConfigError(f"--scheme: {exc}") from None
    if scheme != "none":
        for sentence in sentences:
            bad = next((t for t in sentence.tags if not is_span_tag(t)), None)
            if bad is not None:
                raise DataError.at(path, sentence.line, f"tag {bad!r} is not a {scheme.upper()} tag "
                                                        "(use --scheme none for tags without spans)")
    return scheme


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


class TagTask(Task):
    name, metric, maximize, unit = "tag", "f1", True, "sentences"
    model_class, model_config = Tagger, TaggerConfig

    def read_data(self, sources) -> None:
        s = self.settings
        column_index(s.word_column, "word-column")
        column_index(s.tag_column, "tag-column")
        options = {"word_column": s.word_column, "tag_column": s.tag_column, "sep": s.sep}
        self.train_sents = read_tagged(sources["train"], options)
        self.valid_sents = read_tagged(sources["valid"], options)
        self.scheme = choose_scheme(self.train_sents, s.scheme, sources["train"])
        self.inner = internal_scheme(self.scheme)
        self.train_tags = [convert(x.tags, self.scheme, self.inner) for x in self.train_sents]
        self.valid_tags = [convert(x.tags, self.scheme, self.inner) for x in self.valid_sents]

    def build_tokenizers(self):
        words = [x.words for x in self.train_sents]
        return build_vocabularies(words, self.settings.min_freq, self.settings.vocab_size, self.settings.lowercase)

    @classmethod
    def load_tokenizers(cls, directory: Path, config: dict[str, Any]):
        return load_tokenizer(tokenizer_dir(directory, "words")), load_tokenizer(tokenizer_dir(directory, "chars"))

    def build_model(self) -> Tagger:
        s, (words, chars) = self.settings, self.vocab
        if self.saved is not None:
            labels = self.saved["model"]["labels"]
        elif self.inner != "none":
            labels = labels_for(entity_types(t for x in self.train_tags for t in x), self.inner)
        else:
            labels = sorted({t for x in self.train_tags for t in x})
        label_index = {label: i for i, label in enumerate(labels)}
        train_words = [x.words for x in self.train_sents]
        self.train_data = encode(train_words, words, chars, s.lowercase, self.train_tags, label_index,
                                 singletons(train_words, s.lowercase))
        self.valid_data = encode([x.words for x in self.valid_sents], words, chars, s.lowercase)
        self.labels, self.cache = labels, {}
        model = Tagger(TaggerConfig(
            num_words=words.vocab_size, num_chars=chars.vocab_size, labels=labels, scheme=self.inner,
            embed=s.embed, char_embed=s.char_embed, char_features=s.char_features, char_encoder=s.char_encoder,
            cell=s.cell, hidden=s.hidden, layers=s.layers, bidirectional=s.bidirectional, dropout=s.dropout,
            crf=s.crf, layer_norm=s.layer_norm))
        if s.embeddings and self.saved is None:
            self.notes.append(load_pretrained(model, s.embeddings, words))
        self.notes.append(f"tag scheme {self.scheme.upper() if self.scheme != 'none' else 'none (no spans)'}; "
                          f"{len(self.train_sents):,} training sentences, {len(self.valid_sents):,} validation "
                          f"sentences, {len(labels)} labels, {words.vocab_size:,} words")
        return model

    def epoch_batches(self, epoch: int) -> list[dict[str, torch.Tensor]]:
        if epoch not in self.cache:  # a pure function of the epoch, so caching the last one is safe
            seed = self.train.seed
            generator = epoch_generator(seed, epoch)
            groups = bucketed_batches(self.train_data.lengths, seed, epoch, max_sentences=self.train.batch_size)
            self.cache.clear()
            self.cache[epoch] = [make_batch(self.train_data, g, generator, self.settings.word_dropout)
                                 for g in groups]
        return self.cache[epoch]

    def loss(self, model, batch):
        return tag_loss(model, batch)

    def evaluate(self, model, device) -> dict[str, float]:
        predicted = predict_ids(model, self.valid_data, device)["constrained"]
        return quick_f1(self.valid_tags, [[self.labels[i] for i in seq] for seq in predicted], self.inner)

    def describe(self) -> dict[str, Any]:
        words, chars = self.vocab
        return {"scheme": self.scheme, "tokenizers": {"words": words.describe(), "chars": chars.describe()},
                "longest_sentence": max(len(x.words) for x in self.train_sents)}

    def save_files(self, directory: Path) -> None:
        words, chars = self.vocab
        for name, tokenizer in (("words", words), ("chars", chars)):
            tokenizer_dir(directory, name).mkdir(parents=True, exist_ok=True)
            tokenizer.save(tokenizer_dir(directory, name))

    @classmethod
    def load(cls, checkpoint, device: str = "auto", **options):
        from rnncli.tasks.tag_output import SequenceTagger

        if options:
            raise UsageError(f"a tagger takes no loading option {sorted(options)[0]!r}")
        config, (words, chars), model, torch_device = cls.load_parts(checkpoint, device)
        return SequenceTagger(config, words, chars, model, torch_device)


TASK = TagTask
