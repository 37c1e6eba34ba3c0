"""Tag schemes for span labelling: IOB1, IOB2, BIOES, and "none" (POS-style tag sets).

    IOB1   I-X starts an entity unless it follows X; B-X only splits two adjacent X entities
    IOB2   B-X starts every entity, I-X continues it
    BIOES  B-X begins, I-X continues, E-X ends a multi-token entity; S-X is a single token
    none   tags are opaque labels (part of speech, ...): no spans, no constraints

Everything here is plain Python on tag strings. Spans are (type, start, end) with `end`
exclusive. `spans` reads leniently, the way conlleval does (a stray I-X starts an entity),
so any sequence converts; `strict_spans` reads the way seqeval's strict mode does (only
well-formed chunks count), which is what scoring uses. `transition_allowed` is the one
definition of validity: decoder constraint tables and invalid-transition counts use it.
"""

from __future__ import annotations

from typing import Iterable, Sequence

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
