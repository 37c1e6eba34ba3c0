"""A trained tagger at work: tagging text or CoNLL input, the output formats of `rnncli tag`,
and scoring a checkpoint or two tag files.

    inline  word/TAG word/TAG ...   one line per input line (text input)
    conll   the input's columns and the tag as a new last column; every input line kept
            (blank lines and -DOCSTART- lines too, the latter with an O), so the output
            lines up with the input line by line
    jsonl   one record per sentence: tokens, tags, and entity spans with token and
            character offsets and a score (mean probability of the predicted labels)

Probabilities are calibrated: CRF marginals (softmax with --no-crf) at the temperature
training fitted on the validation set (1.0 for checkpoints from before calibration).
`eval` reports the token-level ECE of the predicted tags' probabilities.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import torch

from rnncli.errors import UsageError
from rnncli.readers.conll import ConllSentence, OtherLine, format_sentence
from rnncli.schemes import convert, normalise_scheme, strict_spans
from rnncli.tasks.tag import EVAL_BATCH, checkpoint_temperature, choose_scheme, predict_ids, read_tagged
from rnncli.tasks.tag_data import Encoded, encode

WORD = re.compile(r"\S+")
INPUT_FORMATS = ("text", "conll")
OUTPUT_FORMATS = ("conll", "jsonl", "inline")


@dataclass
class TextLine:
    """A line of text input: the line, its words, and each word's character offsets."""

    text: str
    words: list[str]
    offsets: list[tuple[int, int]]

    @classmethod
    def parse(cls, line: str) -> "TextLine":
        matches = list(WORD.finditer(line))
        return cls(line, [m.group() for m in matches], [(m.start(), m.end()) for m in matches])

    @classmethod
    def from_words(cls, words: Sequence[str]) -> "TextLine":
        """Tokens given as such; offsets into the tokens joined by single spaces."""
        offsets, position = [], 0
        for word in words:
            offsets.append((position, position + len(word)))
            position += len(word) + 1
        return cls(" ".join(words), list(words), offsets)


@dataclass
class Span:
    type: str
    start: int          # token offsets, end exclusive
    end: int
    char_start: int
    char_end: int
    text: str
    score: float


@dataclass
class TaggedSentence:
    tokens: list[str]
    tags: list[str]
    spans: list[Span]


class SequenceTagger:
    """A trained tagger ready for inference."""

    task = "tag"

    def __init__(self, config: dict[str, Any], words, chars, model, device: torch.device):
        self.config, self.words, self.chars, self.model, self.device = config, words, chars, model, device
        self.split_lines = 0   # sentences over the input limit, tagged in pieces so far
        # Probabilities are taken at this temperature; set it to 1.0 for the raw model's.
        self.temperature = checkpoint_temperature(config, "config.json")

    @property
    def scheme(self) -> str:
        return self.config["scheme"]

    @property
    def labels(self) -> list[str]:
        return self.model.config.labels

    @property
    def inner(self) -> str:
        return self.model.config.scheme

    def output_scheme(self, name: str | None) -> str:
        """The scheme tags are written in: the training data's, or `name` (same kind)."""
        if name is None:
            return self.scheme
        try:
            scheme = normalise_scheme(name)
        except ValueError as exc:
            raise UsageError(f"--output-scheme: {exc}") from None
        if (scheme == "none") != (self.scheme == "none"):
            raise UsageError(f"--output-scheme {scheme}: the model's tags are {self.scheme!r}")
        return scheme

    # ---- the plain Python API ----------------------------------------------------------
    def tag(self, lines: str | Sequence[str] | Sequence[Sequence[str]], scheme: str | None = None,
            batch_size: int = EVAL_BATCH) -> list[TaggedSentence]:
        """Tag lines of text (split on whitespace) or lists of tokens; spans carry
        character offsets into the line (or into the tokens joined by spaces)."""
        items = [lines] if isinstance(lines, str) else list(lines)
        parsed = [TextLine.parse(x) if isinstance(x, str) else TextLine.from_words(list(x)) for x in items]
        return self.tag_lines(parsed, self.output_scheme(scheme), batch_size)

    def tag_lines(self, lines: Sequence[TextLine], scheme: str, batch_size: int = EVAL_BATCH,
                  spans: bool = True, limit: int | None = None) -> list[TaggedSentence]:
        """Without `spans` no probabilities are computed (CRF marginals cost a pass)."""
        result = self.predict([x.words for x in lines], batch_size, probabilities=spans, limit=limit)
        probabilities = result.get("probabilities", [None] * len(lines))
        tagged = []
        for line, inner_tags, probs in zip(lines, result["constrained"], probabilities):
            tags = convert(inner_tags, self.inner, scheme)
            tagged.append(TaggedSentence(line.words, tags, self.spans(line, inner_tags, probs) if spans else []))
        return tagged

    def encode(self, sentences: Sequence[Sequence[str]]) -> Encoded:
        return encode(sentences, self.words, self.chars, self.config["options"]["lowercase"])

    def input_limit(self, limit: int | None = None) -> int:
        """Tokens per piece of a long sentence: the given limit, else twice the longest
        training sentence (at least 256)."""
        return limit or max(256, 2 * int(self.config.get("longest_sentence", 128)))

    def predict(self, sentences: Sequence[Sequence[str]], batch_size: int = EVAL_BATCH,
                modes: Sequence[str] = ("constrained",), probabilities: bool = False,
                limit: int | None = None, raw: bool = False) -> dict[str, list]:
        """Label strings (internal scheme) per mode, plus probabilities at the calibrated
        temperature if asked (and with `raw`, at temperature 1 too). A sentence
        over the input limit is tagged in pieces (their tags joined), and pieces are
        encoded a group at a time, so memory stays bounded whatever the input."""
        limit = self.input_limit(limit)
        pieces, owners = [], []
        for index, words in enumerate(sentences):
            self.split_lines += len(words) > limit
            for start in range(0, max(1, len(words)), limit):
                pieces.append(words[start:start + limit])
                owners.append(index)
        results: dict[str, list] = {mode: [[] for _ in sentences] for mode in modes}
        kinds = (["probabilities"] + (["raw_probabilities"] if raw else [])) if probabilities else []
        parts: dict[str, list[list]] = {key: [[] for _ in sentences] for key in kinds}
        group = batch_size * 8
        for first in range(0, len(pieces), group):
            ids = predict_ids(self.model, self.encode(pieces[first:first + group]), self.device, batch_size,
                              modes, probabilities, self.temperature, raw)
            for offset, owner in enumerate(owners[first:first + group]):
                for mode in modes:
                    results[mode][owner].extend(self.labels[i] for i in ids[mode][offset])
                for key in kinds:
                    parts[key][owner].append(ids[key][offset])
        for key in kinds:
            results[key] = [torch.cat(p) if len(p) > 1 else p[0] for p in parts[key]]
        return results

    def spans(self, line: TextLine, inner_tags: list[str], probs) -> list[Span]:
        """Entity spans; score = mean probability of the predicted label over the entity's
        tokens (CRF marginals or softmax)."""
        if self.inner == "none":
            return []
        index = {label: i for i, label in enumerate(self.labels)}
        found = []
        for kind, start, end in strict_spans(inner_tags, self.inner):
            score = sum(float(probs[t, index[inner_tags[t]]]) for t in range(start, end)) / (end - start)
            char_start, char_end = line.offsets[start][0], line.offsets[end - 1][1]
            found.append(Span(kind, start, end, char_start, char_end, line.text[char_start:char_end],
                              round(score, 4)))
        return found

    # ---- what `rnncli tag` writes ----------------------------------------------------------
    def output_lines(self, chunk: Sequence[TextLine | ConllSentence | OtherLine], output_format: str,
                     scheme: str, batch_size: int, limit: int | None = None) -> Iterator[str]:
        """Output text (with line ends) for a chunk of input items, in order."""
        items = [x for x in chunk if not isinstance(x, OtherLine)]
        lines = [x if isinstance(x, TextLine) else TextLine.from_words(x.words) for x in items]
        tagged = iter(self.tag_lines(lines, scheme, batch_size, output_format == "jsonl", limit) if lines else [])
        for item in chunk:
            if isinstance(item, OtherLine):
                if output_format == "conll":
                    yield (item.text.rstrip() + " O" if item.docstart else item.text) + "\n"
                continue
            sentence = next(tagged)
            if output_format == "inline":
                yield " ".join(f"{w}/{t}" for w, t in zip(sentence.tokens, sentence.tags)) + "\n"
            elif output_format == "conll":
                rows = item.rows if isinstance(item, ConllSentence) else [[w] for w in sentence.tokens]
                text = format_sentence(rows, sentence.tags) if rows else "\n"
                yield text[:-1] if isinstance(item, ConllSentence) else text   # its blank line is an input line
            else:
                record = {"tokens": sentence.tokens, "tags": sentence.tags,
                          "entities": [span.__dict__ for span in sentence.spans]}
                yield json.dumps(record, ensure_ascii=False) + "\n"

    def input_items(self, path: str, input_format: str, word_column: int | None,
                    sep: str | None) -> Iterable[TextLine | ConllSentence | OtherLine]:
        """Text lines or CoNLL items of the input (CoNLL columns as in training unless given)."""
        from rnncli.readers.conll import column_index, iter_conll, separator
        from rnncli.readers.text import iter_lines

        if input_format not in INPUT_FORMATS:
            raise UsageError(f"--input-format {input_format!r}: choose text or conll")
        if input_format == "text":
            return (TextLine.parse(line) for _, line in iter_lines(path))
        saved = self.config["options"]
        column = column_index(word_column if word_column is not None else saved["word_column"], "word-column")
        return iter_conll(path, column, None, separator(sep or saved["sep"]), passthrough=True)

    # ---- scoring -------------------------------------------------------------------------
    def evaluate(self, data: Sequence[str], batch_size: int = EVAL_BATCH, scheme: str | None = None,
                 **options: Any) -> dict[str, Any]:
        """Score on a tagged CoNLL file (the checkpoint's column settings)."""
        from rnncli.metrics.tagging import tagging_report
        from rnncli.schemes import count_invalid

        if len(data) != 1:
            raise UsageError("a tagger is evaluated on one CoNLL file: rnncli eval CKPT FILE")
        path = data[0]
        sentences = read_tagged(path, self.config["options"])
        gold_scheme = choose_scheme(sentences, scheme or (self.scheme if self.scheme == "none" else None), path)
        if (gold_scheme == "none") != (self.scheme == "none"):
            gold_scheme = self.scheme
        result = self.predict([s.words for s in sentences], batch_size, ("constrained", "unconstrained"),
                              probabilities=True, raw=True)
        predicted = [convert(p, self.inner, gold_scheme) for p in result["constrained"]]
        report = tagging_report([s.tags for s in sentences], predicted, gold_scheme)
        # What the model would break without the constraints, counted in its own scheme.
        report["invalid_transitions"] = sum(count_invalid(p, self.inner) for p in result["unconstrained"])
        report["invalid_transitions_scheme"] = self.inner
        calibration = self.token_calibration([convert(s.tags, gold_scheme, self.inner) for s in sentences], result)
        return {"data": str(path), **report, "ece": calibration["ece"], "calibration": calibration}

    def token_calibration(self, gold: Sequence[Sequence[str]], result: dict[str, list]) -> dict[str, Any]:
        """Token ECE: each token's confidence is the probability of its predicted tag (in
        the model's scheme; gold tags converted to it), correct when it equals the gold tag."""
        from rnncli.metrics.calibration import calibration_report

        index = {label: i for i, label in enumerate(self.labels)}
        confidences, raw, correct = [], [], []
        for tags, predicted, probs, raw_probs in zip(gold, result["constrained"], result["probabilities"],
                                                     result["raw_probabilities"]):
            ids = torch.tensor([index[t] for t in predicted], dtype=torch.long).unsqueeze(1)
            confidences += probs.gather(1, ids).squeeze(1).tolist() if predicted else []
            raw += raw_probs.gather(1, ids).squeeze(1).tolist() if predicted else []
            correct += [p == g for p, g in zip(predicted, tags)]
        kind = "CRF marginal" if self.model.crf is not None else "softmax"
        return calibration_report(confidences, raw, correct, self.temperature, "tokens",
                                  f"{kind} of the predicted tag")


def evaluate_tag_files(pred: str, gold: str, scheme: str | None = None) -> dict[str, Any]:
    """Score a predicted CoNLL file against a gold one (tags in the last column of each);
    files in different span schemes are compared after converting the predictions."""
    from rnncli.metrics.tagging import compare_tag_files

    gold_sents, pred_sents = read_tag_pair(pred, gold, scheme)
    report = compare_tag_files([s.tags for s in gold_sents], [s.tags for s in pred_sents], scheme or None,
                               gold_name=str(gold), pred_name=str(pred))
    return {"pred": str(pred), "gold": str(gold), **report}


def read_tag_pair(pred: str, gold: str, scheme: str | None) -> tuple[list, list]:
    """(gold sentences, predicted sentences) of two CoNLL files that line up sentence by
    sentence and token by token (a DataError naming the place otherwise)."""
    from rnncli.errors import DataError
    from rnncli.readers.conll import read_conll
    from rnncli.schemes import detect_file_scheme

    gold_sents, pred_sents = read_conll(gold), read_conll(pred)
    if len(gold_sents) != len(pred_sents):
        raise DataError(f"{pred}: {len(pred_sents)} sentences, but {gold} has {len(gold_sents)}")
    for number, (g, p) in enumerate(zip(gold_sents, pred_sents), start=1):
        if len(g.tags) != len(p.tags):
            raise DataError.at(pred, p.line, f"sentence {number} has {len(p.tags)} tokens, but in "
                                             f"{gold}:{g.line} it has {len(g.tags)}")
    if not scheme:
        detect_file_scheme(gold_sents, gold)   # a gold file that mixes schemes is named by line
    return gold_sents, pred_sents


def tag_sentence_statistics(pred: str, gold: str, scheme: str | None = None) -> tuple[dict[str, Any], list]:
    """(the evaluate_tag_files report, each sentence's (gold entities, predicted entities,
    correct entities)): seqeval's strict entities of the tags as the report scores them
    (predictions converted to the gold's scheme, IOB1 read as IOB2). Without spans (scheme
    none) a sentence counts (tokens, tokens, correct tokens), so its F1 is token accuracy."""
    from seqeval import scheme as seqeval_scheme
    from seqeval.scheme import Entities

    from rnncli.metrics.tagging import SEQEVAL_SCHEME, compare_tag_files, normalise_given, tag_set_scheme
    from rnncli.schemes import fitting_scheme

    gold_sents, pred_sents = read_tag_pair(pred, gold, scheme)
    gold_tags, pred_tags = [s.tags for s in gold_sents], [s.tags for s in pred_sents]
    report = compare_tag_files(gold_tags, pred_tags, scheme or None, gold_name=str(gold), pred_name=str(pred))
    target = normalise_given(scheme) if scheme else tag_set_scheme(gold_tags)
    if target == "none":
        return {"pred": str(pred), "gold": str(gold), **report}, [
            (len(g), len(g), sum(a == b for a, b in zip(g, p))) for g, p in zip(gold_tags, pred_tags)]
    found = fitting_scheme(pred_tags, prefer=target)
    if found is not None and found != target:
        pred_tags = [convert(tags, found, target) for tags in pred_tags]
    if target == "iob1":
        gold_tags = [convert(tags, "iob1", "iob2") for tags in gold_tags]
        pred_tags = [convert(tags, "iob1", "iob2") for tags in pred_tags]
    kind = getattr(seqeval_scheme, SEQEVAL_SCHEME[target])
    gold_entities = Entities([list(t) for t in gold_tags], kind, suffix=False).entities
    pred_entities = Entities([list(t) for t in pred_tags], kind, suffix=False).entities
    counts = [(len(g), len(p), len(set(e.to_tuple() for e in g) & set(e.to_tuple() for e in p)))
              for g, p in zip(gold_entities, pred_entities)]
    return {"pred": str(pred), "gold": str(gold), **report}, counts
