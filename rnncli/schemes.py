"""Tag schemes for span labelling: IOB1, IOB2, BIOES, and "none" (POS-style tag sets).

    IOB1   I-X starts an entity unless it follows X; B-X only splits two adjacent X entities
    IOB2   B-X starts every entity, I-X continues it
    BIOES  B-X begins, I-X continues, E-X ends a multi-token entity; S-X is a single token
    none   tags are opaque labels (part of speech, ...): no spans, no constraints

Everything here is plain Python on tag strings. Spans are (type, start, end) with `end`
exclusive. `spans` reads leniently, the way conlleval does (a stray I-X starts an entity),
so any sequence converts; `strict_spans` reads the way seqeval's strict mode does (only
well-formed chunks count), which is what scoring uses. `transition_allowed` is the one
definition of validity: decoder constraint tables, invalid-transition counts and the
detection of files that mix schemes use it.

`detect_scheme` names the scheme of plain tag sequences as before. `detect_file_scheme`
is for a whole tagged file: it picks the span scheme the file contradicts least and,
unless the file fits it exactly, raises a DataError naming the first contradicting tag's
line, so IOB1-style `I-` starts among BIOES `E-`/`S-` tags (or IOB1 among IOB2) are
reported rather than read silently in one of them. `fitting_scheme` is the lenient form
for predictions, whose invalid transitions are a model's errors, not a file's scheme.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable, Iterator, Sequence

from rnncli.errors import DataError

SCHEMES = ("iob1", "iob2", "bioes", "none")
SPAN_SCHEMES = ("iob1", "iob2", "bioes")
ALIASES = {"iobes": "bioes", "bio": "iob2", "iob": "iob2"}
Span = tuple[str, int, int]


def normalise_scheme(name: str) -> str:
    name = ALIASES.get(name.lower(), name.lower())
    if name not in SCHEMES:
        raise ValueError(f"unknown tag scheme {name!r}; choose one of {', '.join(SCHEMES)}")
    return name


def split_tag(tag: str) -> tuple[str, str | None]:
    """'B-PER' -> ('B', 'PER'); 'O' -> ('O', None). Only call on span tags."""
    if tag == "O":
        return "O", None
    return tag[0], tag[2:]


def is_span_tag(tag: str) -> bool:
    return tag == "O" or (len(tag) > 2 and tag[0] in "BIES" and tag[1] == "-")


def detect_scheme(sequences: Iterable[Sequence[str]]) -> str:
    """The scheme a tagged corpus uses: bioes if E-/S- occur; iob1 if an I-X ever starts an
    entity; iob2 for other B/I/O sets; none if any tag is not of the span form."""
    sequences = [list(s) for s in sequences]
    tags = {t for s in sequences for t in s}
    if not tags or not all(is_span_tag(t) for t in tags):
        return "none"
    if any(t[0] in "ES" for t in tags if t != "O"):
        return "bioes"
    for seq in sequences:
        previous = "O"
        for tag in seq:
            if tag[0] == "I" and (previous == "O" or previous[2:] != tag[2:]):
                return "iob1"
            previous = tag
    return "iob2"


RULES = {"iob1": "I-X starts an entity, B-X only right after an X entity",
         "iob2": "B-X starts every entity, I-X continues it",
         "bioes": "S-X for one token, B-X I-X... E-X for more"}


def has_entity_tags(tags: Iterable[str]) -> bool:
    """Any tag of the B-X/I-X/E-X/S-X form (a set of only "O" says nothing of spans)."""
    return any(tag != "O" and is_span_tag(tag) for tag in tags)


def contradictions(tags: Sequence[str], scheme: str) -> Iterator[int]:
    """Positions of the tags a span `scheme` forbids, in order, each once. For BIOES an
    entity left open (B-X or I-X not followed by I-X/E-X) is the open tag's fault;
    otherwise the tag that arrives where it may not."""
    previous, blamed = None, -1
    for index in range(len(tags) + 1):
        current = tags[index] if index < len(tags) else None
        if not cached_allowed(previous, current, scheme):
            open_entity = scheme == "bioes" and previous is not None and previous[0] in "BI"
            position = index - 1 if open_entity else index
            if position != blamed:
                blamed = position
                yield position
        previous = current


def scheme_fit(sequences: Iterable[Sequence[str]]) -> dict[str, tuple[int, int | None]]:
    """{span scheme: (tags contradicting it, (sentence, position) of the first or None)}."""
    fit: dict[str, Any] = {scheme: [0, None] for scheme in SPAN_SCHEMES}
    for number, tags in enumerate(sequences):
        for scheme in SPAN_SCHEMES:
            for position in contradictions(tags, scheme):
                fit[scheme][0] += 1
                if fit[scheme][1] is None:
                    fit[scheme][1] = (number, position)
    return {scheme: (count, first) for scheme, (count, first) in fit.items()}


def best_scheme(fit: dict[str, tuple[int, Any]], prefer: str | None = None) -> str:
    """The scheme contradicted least; ties go to `prefer`, then to the scheme whose first
    contradiction comes latest (the start of a file sets its scheme), then iob2."""
    def rank(scheme: str) -> tuple:
        count, first = fit[scheme]
        return (count, scheme != prefer, tuple(-x for x in first) if first else (), scheme != "iob2")
    return min(SPAN_SCHEMES, key=rank)


def fitting_scheme(sequences: Sequence[Sequence[str]], prefer: str | None = None) -> str | None:
    """The scheme predicted tags are in, leniently: "none" if any tag is not of the span
    form, None if no tag marks an entity (all "O": any scheme fits), else the span scheme
    contradicted least (ties to `prefer`)."""
    tags = {t for s in sequences for t in s}
    if not all(is_span_tag(t) for t in tags):
        return "none"
    if not has_entity_tags(tags):
        return None
    if any(t[0] in "ES" for t in tags):
        return "bioes"  # only BIOES can even read an E-/S- tag
    return best_scheme(scheme_fit(sequences), prefer)


def tag_line(sentence: Any, position: int) -> int:
    lines = getattr(sentence, "lines", None)
    return lines[position] if lines and position < len(lines) else sentence.line + position


def detect_file_scheme(sentences: Sequence[Any], path: Any) -> str:
    """The scheme of a tagged file's sentences (each with `.tags` and `.line`, and `.lines`
    where known: the line of each token), or a DataError naming the line of the first tag
    that contradicts the scheme the rest of the file implies.

    A file whose tags are not all of the span form is "none" (opaque labels), unless most
    of its tags are B-/I-/E-/S- tags: then the first other tag is the contradiction."""
    name = "<stdin>" if str(path) == "-" else str(path)
    sentences = [s for s in sentences if s.tags]
    if not sentences:
        return "none"
    odd = [(s, i) for s in sentences for i, t in enumerate(s.tags) if not is_span_tag(t)]
    if odd:
        entity_tags = sum(t != "O" and is_span_tag(t) for s in sentences for t in s.tags)
        if entity_tags <= len(odd):
            return "none"
        sentence, position = odd[0]
        raise DataError.at(name, tag_line(sentence, position),
                           f"tag {sentence.tags[position]!r} is not a span tag (B-X, I-X, E-X, S-X "
                           f"or O) though most tags of the file are; fix it, or give --scheme none "
                           "to read all tags as opaque labels")
    fit = scheme_fit([s.tags for s in sentences])
    scheme = best_scheme(fit)
    count, first = fit[scheme]
    if first is None:
        return scheme
    sentence, position = sentences[first[0]], first[1]
    raise DataError.at(name, tag_line(sentence, position),
                       f"tag {sentence.tags[position]!r} does not fit {scheme.upper()} "
                       f"({RULES[scheme]}), the scheme the rest of the file implies ({count:,} "
                       "tag(s) contradict it, at least as many each other scheme); the file mixes "
                       "tag schemes: fix it, or give --scheme")


def spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """Entities of a tag sequence, read leniently (any sequence gives spans)."""
    result: list[Span] = []
    current: list | None = None  # [type, start]

    def close(end: int) -> None:
        nonlocal current
        if current is not None:
            result.append((current[0], current[1], end))
            current = None

    for index, tag in enumerate(tags):
        prefix, kind = split_tag(tag)
        if prefix == "O":
            close(index)
        elif prefix == "S":
            close(index)
            result.append((kind, index, index + 1))
        elif prefix == "B" or current is None or current[0] != kind:
            close(index)
            current = [kind, index]
        if prefix == "E":
            close(index + 1)
    close(len(tags))
    return result


def strict_spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """Entities as seqeval's strict mode counts them: only well-formed chunks of the scheme
    (IOB1 is read as the IOB2 it converts to)."""
    if scheme == "iob1":
        tags = convert(tags, "iob1", "iob2")
        scheme = "iob2"
    result: list[Span] = []
    start, kind = None, None
    for index, tag in enumerate(tags):
        prefix, tag_kind = split_tag(tag)
        continues = start is not None and tag_kind == kind and (
            prefix == "I" or (scheme == "bioes" and prefix == "E"))
        if continues:
            if prefix == "E":
                result.append((kind, start, index + 1))
                start = None
            continue
        if scheme == "iob2" and start is not None:
            result.append((kind, start, index))
        start, kind = None, None
        if prefix == "B":
            start, kind = index, tag_kind
        elif prefix == "S" and scheme == "bioes":
            result.append((tag_kind, index, index + 1))
    if scheme == "iob2" and start is not None:
        result.append((kind, start, len(tags)))
    return result


def from_spans(entities: Sequence[Span], length: int, scheme: str) -> list[str]:
    """The tag sequence of `length` tokens holding `entities` (non-overlapping) in `scheme`."""
    tags = ["O"] * length
    previous_end, previous_kind = -1, None
    for kind, start, end in sorted(entities, key=lambda span: span[1]):
        if scheme == "bioes":
            if end - start == 1:
                tags[start] = f"S-{kind}"
            else:
                tags[start] = f"B-{kind}"
                tags[start + 1:end - 1] = [f"I-{kind}"] * (end - start - 2)
                tags[end - 1] = f"E-{kind}"
        else:
            first = "B" if scheme == "iob2" or (previous_end == start and previous_kind == kind) else "I"
            tags[start] = f"{first}-{kind}"
            tags[start + 1:end] = [f"I-{kind}"] * (end - start - 1)
        previous_end, previous_kind = end, kind
    return tags


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """Re-express a tag sequence in another scheme (through its lenient spans)."""
    if source == "none" or target == "none" or source == target and is_valid(tags, source):
        return list(tags)
    return from_spans(spans(tags, source), len(tags), target)


def transition_allowed(previous: str | None, current: str | None, scheme: str) -> bool:
    """May `current` follow `previous` in `scheme`? None stands for the sentence start (as
    previous) or end (as current)."""
    if scheme == "none":
        return True
    prev_prefix, prev_kind = split_tag(previous) if previous is not None else ("O", None)
    cur_prefix, cur_kind = split_tag(current) if current is not None else (None, None)
    if scheme == "bioes":
        inside = prev_prefix in ("B", "I")
        if inside:
            return cur_prefix in ("I", "E") and cur_kind == prev_kind
        return cur_prefix in ("O", "B", "S", None)
    if scheme == "iob2":
        if cur_prefix == "I":
            return prev_prefix in ("B", "I") and prev_kind == cur_kind
        return cur_prefix in ("O", "B", None)
    # iob1: B-X only right after an X chunk
    if cur_prefix == "B":
        return previous is not None and prev_prefix in ("B", "I") and prev_kind == cur_kind
    return cur_prefix in ("O", "I", None)


# A file's tag set is small and its transitions repeat: caching makes detecting a
# corpus's scheme cost little more than reading it (bounded, for hostile tag sets).
cached_allowed = lru_cache(maxsize=1 << 16)(transition_allowed)


def transition_masks(labels: Sequence[str], scheme: str) -> tuple[list[bool], list[list[bool]], list[bool]]:
    """(start allowed (L,), transition allowed (L, L) from row to column, end allowed (L,))."""
    start = [transition_allowed(None, label, scheme) for label in labels]
    table = [[transition_allowed(a, b, scheme) for b in labels] for a in labels]
    end = [transition_allowed(label, None, scheme) for label in labels]
    return start, table, end


def count_invalid(tags: Sequence[str], scheme: str) -> int:
    """Transitions (sentence start and end included) that `scheme` forbids."""
    if scheme == "none" or not tags:
        return 0
    padded = [None, *tags, None]
    return sum(not transition_allowed(a, b, scheme) for a, b in zip(padded, padded[1:]))


def is_valid(tags: Sequence[str], scheme: str) -> bool:
    if scheme == "none":
        return True
    return all(is_span_tag(t) for t in tags) and count_invalid(tags, scheme) == 0


def entity_types(labels: Iterable[str]) -> list[str]:
    return sorted({split_tag(t)[1] for t in labels if is_span_tag(t) and t != "O"})


def labels_for(types: Sequence[str], scheme: str) -> list[str]:
    """The full label set of a span scheme over entity types, 'O' first."""
    prefixes = {"bioes": "BIES", "iob2": "BI", "iob1": "BI"}[scheme]
    return ["O"] + [f"{p}-{t}" for t in types for p in prefixes]
