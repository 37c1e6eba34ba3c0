"""Sequence tagging (many-to-many, equal length): NER and any BIO-style span labelling,
or plain per-token tags (POS).

Training reads CoNLL columns, detects the tag scheme (or takes --scheme), converts span
tags to BIOES internally (its explicit ends give the CRF more to learn from), trains a
BiLSTM-CRF, and keeps the checkpoint with the best validation entity F1. Predictions are
converted back to the input's scheme (or another one) on the way out (tasks/tag_output.py).

Confidence: a token's probability is its CRF marginal (the softmax of its emissions with
--no-crf) under the tempered model p_T(tags | words) ~ exp(score / T), emissions and
transition scores both divided by T. After training, T is fitted on the validation set by
minimising the NLL of the gold tag's marginal per token (the quantity reported as
confidence), and stored in config.json; dividing every score by T leaves the Viterbi path
unchanged, so only the probabilities move.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from rnncli.batching import bucketed_batches, epoch_generator, inference_batches
from rnncli.core.masking import sequence_mask
from rnncli.errors import CheckpointError, ConfigError, DataError, UsageError
from rnncli.metrics.calibration import BINS, check_temperature, fit_temperature, reliability
from rnncli.metrics.tagging import quick_f1
from rnncli.models.tagger import Tagger, TaggerConfig
from rnncli.readers.conll import column_index, read_conll, separator
from rnncli.runtime import move_to
from rnncli.schemes import (SPAN_SCHEMES, convert, detect_file_scheme, entity_types, is_span_tag,
                            labels_for, normalise_scheme)
from rnncli.tasks import transfer
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


def crf_marginals(crf, emissions: torch.Tensor, mask: torch.Tensor, temperature: float) -> torch.Tensor:
    """Marginals (B, T, L) of the constrained CRF with emissions and learned scores divided
    by `temperature` (the forbidden moves stay forbidden): the gradient of the tempered
    log-partition. The recursion is CRF.log_partition's, over tempered scores, which that
    method cannot take (it reads the module's own parameters)."""
    start = crf.start.detach() / temperature + crf.start_penalty
    trans = crf.transitions.detach() / temperature + crf.trans_penalty
    end = crf.end.detach() / temperature + crf.end_penalty
    with torch.enable_grad():
        scaled = (emissions.detach().float() / temperature).requires_grad_(True)
        alpha = start + scaled[:, 0]
        for t in range(1, scaled.size(1)):
            step = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + scaled[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)
        (grad,) = torch.autograd.grad(torch.logsumexp(alpha + end, dim=1).sum(), scaled)
    return grad * mask.unsqueeze(2)


def token_probabilities(model: Tagger, emissions: torch.Tensor, lengths: torch.Tensor,
                        temperature: float = 1.0) -> torch.Tensor:
    """Per-token label probabilities (B, T, L) at `temperature` (1.0: the model's own)."""
    if temperature == 1.0:
        return model.probabilities(emissions, lengths)
    mask = sequence_mask(lengths, emissions.size(1))
    if model.crf is None:
        return (emissions.float() / temperature).softmax(-1) * mask.unsqueeze(2)
    return crf_marginals(model.crf, emissions, mask, temperature)


@torch.no_grad()
def predict_ids(model: Tagger, data: Encoded, device: torch.device, batch_size: int = EVAL_BATCH,
                modes: Sequence[str] = ("constrained",), probabilities: bool = False,
                temperature: float = 1.0, raw: bool = False) -> dict[str, list]:
    """Label ids per sentence for each mode ("constrained", "unconstrained"), in input
    order; with `probabilities`, also each sentence's (T, L) label probabilities at
    `temperature`, and with `raw` those at temperature 1 ("raw_probabilities")."""
    lengths = data.lengths
    results: dict[str, list] = {mode: [[] for _ in lengths] for mode in modes}
    kinds = [("probabilities", temperature)] if probabilities else []
    kinds += [("raw_probabilities", 1.0)] if probabilities and raw else []
    for key, _ in kinds:
        results[key] = [torch.zeros(0, len(model.config.labels)) for _ in lengths]
    real = [i for i, n in enumerate(lengths) if n > 0]
    for group in inference_batches([lengths[i] for i in real], batch_size):
        indices = [real[i] for i in group]
        batch = move_to(make_batch(data, indices), device)
        emissions = model(*model_inputs(batch))
        for mode in modes:
            tags = model.decode(emissions, batch["lengths"], constrained=mode == "constrained").cpu()
            for row, index in enumerate(indices):
                results[mode][index] = tags[row, : lengths[index]].tolist()
        for key, value in kinds:
            probs = token_probabilities(model, emissions, batch["lengths"], value).cpu()
            for row, index in enumerate(indices):
                results[key][index] = probs[row, : lengths[index]]
    return results


@torch.no_grad()
def validation_emissions(model: Tagger, data: Encoded, gold: Sequence[Sequence[int]], device: torch.device,
                         batch_size: int = EVAL_BATCH) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(emissions, lengths, gold ids with -1 on padding and on tags the model lacks) per
    batch, on the device: the network runs once, the temperature search reuses them."""
    batches = []
    real = [i for i, n in enumerate(data.lengths) if n > 0]
    for group in inference_batches([data.lengths[i] for i in real], batch_size):
        indices = [real[i] for i in group]
        batch = move_to(make_batch(data, indices), device)
        target = torch.full(batch["words"].shape, -1, dtype=torch.long)
        for row, index in enumerate(indices):
            target[row, : len(gold[index])] = torch.tensor(gold[index], dtype=torch.long)
        batches.append((model(*model_inputs(batch)), batch["lengths"], target.to(device)))
    return batches


def fit_tagger_temperature(model: Tagger, batches) -> dict[str, Any]:
    """Temperature scaling on validation tokens: the T minimising the mean NLL of each gold
    tag's marginal, with the NLL and token ECE before and after."""
    tokens = sum(int((target >= 0).sum()) for _, _, target in batches)

    def gold_probabilities(temperature: float):
        for emissions, lengths, target in batches:
            probs = token_probabilities(model, emissions, lengths, temperature)
            keep = target >= 0
            yield probs, target, keep

    def nll(temperature: float) -> float:
        total = 0.0
        for probs, target, keep in gold_probabilities(temperature):
            picked = probs.gather(2, target.clamp_min(0).unsqueeze(2)).squeeze(2)[keep]
            total -= float(picked.clamp_min(1e-12).log().sum())
        return total / tokens

    def ece(temperature: float) -> float:
        confidences, correct = [], []
        for (emissions, lengths, _), (probs, target, keep) in zip(batches, gold_probabilities(temperature)):
            predicted = model.decode(emissions, lengths)
            confidences += probs.gather(2, predicted.unsqueeze(2)).squeeze(2)[keep].tolist()
            correct += (predicted == target)[keep].tolist()
        return reliability(confidences, correct).ece

    if not tokens:
        return {"temperature": 1.0, "tokens": 0, "validation_nll": None, "validation_ece": None}
    temperature = round(fit_temperature(nll), 6)
    return {"temperature": temperature, "method": "temperature scaling (1-D search over log T minimising "
            "the validation NLL of each token's gold-tag marginal)", "tokens": tokens,
            "confidence": "CRF marginal" if model.crf is not None else "softmax of the emissions",
            "validation_nll": {"before": nll(1.0), "after": nll(temperature)},
            "validation_ece": {"before": ece(1.0), "after": ece(temperature), "bins": BINS}}


def checkpoint_temperature(config: dict[str, Any], where) -> float:
    """The temperature stored by training; 1.0 for checkpoints written before calibration."""
    try:
        return check_temperature((config.get("calibration") or {}).get("temperature"), str(where))
    except (ValueError, AttributeError) as exc:
        raise CheckpointError(str(exc)) from None


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

    @classmethod
    def fresh_settings(cls, settings, train, given):
        if train.init_from is None:
            return settings
        kind = transfer.lm_options(train.init_from).get("tokenizer")
        if kind != "word":
            raise ConfigError(f"--init-from {train.init_from}: the language model uses a {kind} tokenizer, but a "
                              "tagger reads whole words; train the LM with --tokenizer word")
        for name in ("vocab_size", "min_freq", "embeddings"):
            if name in given:
                option = "--" + name.replace("_", "-")
                raise ConfigError(f"{option} conflicts with --init-from {train.init_from}: the word vocabulary "
                                  "and embedding are the language model's; drop " + option)
        return transfer.adopt_lm_settings(settings, train.init_from, given, {})

    def build_tokenizers(self):
        s, words = self.settings, [x.words for x in self.train_sents]
        vocabularies = build_vocabularies(words, s.min_freq, s.vocab_size, s.lowercase)
        if self.train.init_from is not None:   # the LM's words; characters from the data as always
            return transfer.lm_tokenizer(self.train.init_from), vocabularies[1]
        return vocabularies

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
        if self.train.init_from is not None and self.saved is None:   # resume: weights come from the state
            transfer.copy_encoder(model, transfer.load_lm(self.train.init_from))
            self.notes.append(f"word embedding and {s.layers}-layer {s.cell} encoder start from the language "
                              f"model {self.train.init_from}" + (" (forward direction; backward fresh)"
                                                                 if s.bidirectional else ""))
        self.notes.append(f"tag scheme {self.scheme.upper() if self.scheme != 'none' else 'none (no spans)'}; "
                          f"{len(self.train_sents):,} training sentences, {len(self.valid_sents):,} validation "
                          f"sentences, {len(labels)} labels, {words.vocab_size:,} words")
        return model

    def layer_plan(self, model):
        return transfer.layer_plan(model, self.train)

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

    def after_training(self, model, device) -> dict[str, Any]:
        index = {label: i for i, label in enumerate(self.labels)}
        gold = [[index.get(t, -1) for t in tags] for tags in self.valid_tags]
        fitted = fit_tagger_temperature(model, validation_emissions(model, self.valid_data, gold, device))
        if fitted["validation_nll"] is not None:
            nll, ece = fitted["validation_nll"], fitted["validation_ece"]
            self.notes.append(f"calibration: temperature {fitted['temperature']:.3f} fitted on the validation "
                              f"tokens (NLL {nll['before']:.4f} -> {nll['after']:.4f}, token ECE "
                              f"{ece['before']:.4f} -> {ece['after']:.4f}); tag scores use this temperature")
        return {"calibration": fitted}

    def describe(self) -> dict[str, Any]:
        words, chars = self.vocab
        return {"scheme": self.scheme, "tokenizers": {"words": words.describe(), "chars": chars.describe()},
                "longest_sentence": max(len(x.words) for x in self.train_sents),
                **transfer.describe_init(self.train.init_from if self.saved is None else None)}

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
        checkpoint_temperature(config, Path(checkpoint) / "config.json")   # damage named by its path
        return SequenceTagger(config, words, chars, model, torch_device)


TASK = TagTask
