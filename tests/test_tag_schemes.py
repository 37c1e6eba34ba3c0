"""Tag schemes: detection, conversion round trips, transition tables, strict spans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rnncli.schemes import (convert, count_invalid, detect_scheme, from_spans, is_valid, spans,
                            strict_spans, transition_masks)

TYPES = ["PER", "LOC", "ORG"]


@st.composite
def span_layouts(draw):
    """A sentence length and non-overlapping entity spans, adjacent same-type ones included."""
    length = draw(st.integers(1, 12))
    result, position = [], 0
    while position < length:
        position += draw(st.integers(0, 2))
        if position >= length:
            break
        end = min(length, position + draw(st.integers(1, 3)))
        result.append((draw(st.sampled_from(TYPES)), position, end))
        position = end
    return length, result


@given(span_layouts())
@settings(max_examples=200, deadline=None)
def test_round_trips_between_all_schemes(layout):
    length, entities = layout
    for scheme in ("iob1", "iob2", "bioes"):
        tags = from_spans(entities, length, scheme)
        assert is_valid(tags, scheme)
        assert spans(tags, scheme) == entities
        assert strict_spans(tags, scheme) == entities
        for other in ("iob1", "iob2", "bioes"):
            assert convert(convert(tags, scheme, other), other, scheme) == tags
            assert convert(tags, scheme, other) == from_spans(entities, length, other)


def test_detection():
    assert detect_scheme([["I-ORG", "O", "I-PER", "I-PER"]]) == "iob1"
    assert detect_scheme([["I-PER", "B-PER"], ["O"]]) == "iob1"
    assert detect_scheme([["B-ORG", "I-ORG", "O", "B-PER"]]) == "iob2"
    assert detect_scheme([["B-ORG", "E-ORG", "S-PER", "O"]]) == "bioes"
    assert detect_scheme([["NN", "VBZ", "DT"]]) == "none"
    assert detect_scheme([["O", "O"]]) == "iob2"


def test_conll_iob1_example_converts():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC"]
    assert convert(iob1, "iob1", "iob2") == ["B-PER", "I-PER", "B-PER", "O", "B-LOC"]
    assert convert(iob1, "iob1", "bioes") == ["B-PER", "E-PER", "S-PER", "O", "S-LOC"]


def test_transition_tables():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    start, table, end = transition_masks(labels, "bioes")
    assert start == [True, True, False, False, True] and end == [True, False, False, True, True]
    assert table[0] == [True, True, False, False, True]       # O -> O, B, S
    assert table[1] == [False, False, True, True, False]      # B -> I, E
    start, table, _ = transition_masks(["O", "B-PER", "I-PER", "I-LOC"], "iob2")
    assert not start[2] and not table[0][2] and table[1][2] and not table[1][3]
    assert count_invalid(["O", "I-PER"], "iob2") == 1
    assert count_invalid(["B-PER"], "iob1") == 1 and count_invalid(["I-PER", "B-PER"], "iob1") == 0
    assert count_invalid(["B-PER", "O"], "bioes") == 1   # B must be closed by E


def test_strict_spans_drop_broken_chunks():
    assert strict_spans(["O", "I-PER", "B-LOC", "I-LOC"], "iob2") == [("LOC", 2, 4)]
    assert strict_spans(["B-PER", "I-PER", "O", "S-LOC", "B-ORG"], "bioes") == [("LOC", 3, 4)]
