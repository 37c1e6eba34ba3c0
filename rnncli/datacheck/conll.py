"""Checks of CoNLL column files for tagging.

Sentences are grouped as rnncli/readers/conll.py groups them (a blank line ends one,
-DOCSTART- lines are skipped; every token line has the first token line's column count).
The tag scheme is judged as `train tag` judges it (rnncli/schemes.py): the span scheme
the training file contradicts least, or --scheme; each contradicting tag is listed by
file:line with the tag before it. Training refuses a training file that mixes schemes,
so there that is an error; a validation file is read leniently, so there a warning.
"""

from __future__ import annotations

from typing import Iterator

from rnncli.datacheck.common import CheckOptions, duplicates, file_entry, label_findings, length_limit, overlap
from rnncli.datacheck.report import EXAMPLES, Findings, Report
from rnncli.datacheck.scan import ByteStats, scan
from rnncli.datacheck.stats import HashIndex, LabelCounts, LengthStats, hash64
from rnncli.errors import UsageError
from rnncli.readers.conll import DOCSTART, column_index, normalised, separator, split_row
from rnncli.readers.text import display_name
from rnncli.schemes import (RULES, SPAN_SCHEMES, best_scheme, cached_allowed, contradictions, is_span_tag,
                            normalise_scheme)


class SchemeFit:
    """Per span scheme: how many tags contradict it, and the first few (line, previous tag, tag)."""

    def __init__(self, schemes=SPAN_SCHEMES):
        self.schemes = schemes
        self.counts = {scheme: 0 for scheme in schemes}
        self.first: dict[str, tuple[int, int] | None] = {scheme: None for scheme in schemes}
        self.examples: dict[str, list[tuple[int, str]]] = {scheme: [] for scheme in schemes}
        self.odd: list[tuple[int, str]] = []      # tags not of the span form (first few)
        self.odd_count = self.entity_tags = 0

    def add(self, sentence: int, tags: list[str], lines: list[int]) -> None:
        odd = [i for i, tag in enumerate(tags) if not is_span_tag(tag)]
        self.odd_count += len(odd)
        self.odd += [(lines[i], tags[i]) for i in odd[:EXAMPLES - len(self.odd)]]
        self.entity_tags += sum(tag != "O" and is_span_tag(tag) for tag in tags)
        if odd:
            tags = [tag if is_span_tag(tag) else "O" for tag in tags]   # judge the rest of the sentence
        for scheme in self.schemes:
            for position in contradictions(tags, scheme):
                self.counts[scheme] += 1
                self.first[scheme] = self.first[scheme] or (sentence, position)
                if len(self.examples[scheme]) < EXAMPLES:
                    self.examples[scheme].append((lines[min(position, len(tags) - 1)],
                                                  describe(tags, position, scheme)))

    def scheme(self, given: str | None) -> str:
        if given is not None:
            return given
        if self.odd_count and self.entity_tags <= self.odd_count:
            return "none"
        return best_scheme({s: (self.counts[s], self.first[s]) for s in self.schemes})


def describe(tags: list[str], position: int, scheme: str) -> str:
    """Why the tag at `position` contradicts `scheme`: an entity it leaves open (BIOES), or
    the tag it follows."""
    tag = tags[position]
    following = tags[position + 1] if position + 1 < len(tags) else None
    if scheme == "bioes" and tag[0] in "BI" and not cached_allowed(tag, following, scheme):
        return f"{tag!r} left open: followed by {following!r}" if following else f"{tag!r} left open at the sentence end"
    before = tags[position - 1] if position > 0 else "(sentence start)"
    return f"{tag!r} after {before!r}"


def sentences(path: str, name: str, options: CheckOptions, findings: Findings,
              stats: ByteStats) -> Iterator[tuple[list[str], list[str], list[int]]]:
    """(words, tags, lines) per sentence; a bad token line is a finding and is left out."""
    sep = separator(options.sep)
    word, tag = column_index(options.word_column, "word-column"), column_index(options.tag_column, "tag-column")
    expected = None
    words: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    for number, line in scan(path, findings, stats):
        row = split_row(line, sep) if line.strip() else []
        if not row or row[0] == DOCSTART:
            if words:
                yield words, tags, lines
                words, tags, lines = [], [], []
            continue
        if expected is None:
            needed = max(word + 1 if word >= 0 else -word, tag + 1 if tag >= 0 else -tag, 2)
            if len(row) < needed:
                findings.add("error", "bad-columns", name, number, f"expected at least {needed} columns (word "
                             f"and tag), found {len(row)}")
                continue
            if normalised(word, len(row)) == normalised(tag, len(row)):
                raise UsageError("--word-column and --tag-column name the same column")
            expected = len(row)
        elif len(row) != expected:
            findings.add("error", "bad-columns", name, number, f"expected {expected} columns (as on the first "
                         f"token line), found {len(row)}", detail=f"{len(row)} columns")
            continue
        if any(not cell for cell in row):
            findings.add("error", "bad-columns", name, number, "empty column (two separators in a row?)")
            continue
        words.append(row[word])
        tags.append(row[tag])
        lines.append(number)
    if words:
        yield words, tags, lines


def read_file(role: str, path: str, options: CheckOptions, findings: Findings, scheme_fit: SchemeFit):
    name, stats = display_name(path), ByteStats()
    lengths = LengthStats("tokens", [options.max_len or 0])
    labels, types, index = LabelCounts(), LabelCounts(), HashIndex()
    for number, (words, tags, lines) in enumerate(sentences(path, name, options, findings, stats)):
        lengths.add(len(words), lines[0])
        for tag, line in zip(tags, lines):
            labels.add(tag, line)
            if tag != "O" and is_span_tag(tag):
                types.add(tag[2:], line)
        scheme_fit.add(number, tags, lines)
        index.add(hash64(" ".join(words), " ".join(tags)), lines[0])
    if not lengths.count and stats.lines:
        findings.add("error", "no-sentences", name, None, "no sentences (only blank or -DOCSTART- lines)")
    length_limit(findings, name, lengths, options.max_len, "counted", "--max-len", "sentence(s)")
    entry = file_entry(role, name, stats, records=lengths.count, lengths=lengths.to_dict(),
                       tags=labels.to_dict(), entity_types=types.to_dict(),
                       duplicates=duplicates(findings, name, index, "sentences (words and tags)"))
    return name, entry, (labels, types), index


def scheme_findings(findings: Findings, name: str, fit: SchemeFit, scheme: str, level: str, given: bool) -> None:
    if scheme == "none":
        return
    if fit.odd_count:
        line, tag = fit.odd[0]
        findings.add(level, "not-span-tag", name, line, f"{fit.odd_count:,} tag(s) are not span tags (B-X, I-X, "
                     f"E-X, S-X or O), the first {tag!r}, though most tags of the file are; fix them, or give "
                     "--scheme none", count=0)
        finding = findings.items[("not-span-tag", name)]
        finding.count = fit.odd_count
        finding.examples = [{"file": name, "line": n, "detail": f"tag {t!r}"} for n, t in fit.odd]
    count = fit.counts[scheme]
    if count:
        how = "given with --scheme" if given else "the scheme the rest of the file implies"
        line, detail = fit.examples[scheme][0]
        findings.add(level, "invalid-transition", name, line,
                     f"{count:,} tag(s) do not fit {scheme.upper()} ({RULES[scheme]}; {how}): the first, {detail}",
                     count=0)
        finding = findings.items[("invalid-transition", name)]
        finding.count = count
        finding.examples = [{"file": name, "line": n, "detail": d} for n, d in fit.examples[scheme]]


def check_tag(files: dict[str, str], options: CheckOptions, findings: Findings) -> Report:
    given = None
    if options.scheme is not None:
        try:
            given = normalise_scheme(options.scheme)
        except ValueError as exc:
            raise UsageError(f"--scheme: {exc}") from None
    entries, seen, pairs = [], {}, {}
    scheme = given
    for role in ("train", "valid"):
        if files.get(role) is None:
            continue
        fit = SchemeFit((given,) if given not in (None, "none") else SPAN_SCHEMES)
        name, entry, labels, index = read_file(role, files[role], options, findings, fit)
        if role == "train":
            scheme = fit.scheme(given)
            scheme_findings(findings, name, fit, scheme, "error", given is not None)
            entry["scheme"] = scheme
        elif scheme not in (None, "none"):   # every span scheme was fitted, or the given one
            scheme_findings(findings, name, fit, scheme, "warning", given is not None)
        entries.append(entry)
        seen[role] = (name, labels, index)
    if "train" in seen and "valid" in seen:
        (train_name, train_labels, train_index), (valid_name, valid_labels, valid_index) = seen["train"], seen["valid"]
        kind = 1 if scheme not in (None, "none") else 0     # span schemes: compare entity types
        pairs["tags"] = label_findings(findings, train_name, train_labels[kind], valid_name, valid_labels[kind],
                                       "warning", "; the tagger can never predict it", imbalance=False)
        pairs["overlap"] = overlap(findings, valid_name, valid_index, train_name, train_index, "sentences")
    return Report("tag", entries, findings.sorted(), pairs)
