"""Property tests: hostile bytes into every reader give a result or a one-line error.

For each input format (plain lines, TSV, CSV, JSONL, fastText, CoNLL, parallel files,
word vectors) random bytes, random nesting and random line endings (\\n, \\r\\n, \\r,
mixed) go in; what comes out is a result or a DataError/UsageError whose message is one
line and names the file, never another exception. Plain-text readers also lose no line.

Examples are small and few enough (the machine is a slow, shared 2-core one) that the file
runs in seconds; the deadline is generous for the same reason, but would still catch a
reader that went quadratic or hung on a small input.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnncli.embeddings import load_vectors
from rnncli.errors import DataError, UsageError
from rnncli.metrics.tagging import compare_tag_files
from rnncli.readers.conll import iter_conll, read_conll
from rnncli.readers.labelled import InputRows, read_labelled
from rnncli.readers.parallel import read_parallel, read_references
from rnncli.readers.text import iter_lines, read_lines, read_text
from rnncli.schemes import detect_file_scheme

PROPERTY = settings(max_examples=150, deadline=timedelta(seconds=5),
                    suppress_health_check=[HealthCheck.too_slow])

# Bytes that break readers: line ends, separators, quotes, brackets, a NUL, invalid
# UTF-8, a BOM, Unicode line separators that str.splitlines (but not these readers) splits on.
NASTY = [b"\n", b"\r\n", b"\r", b"\t", b" ", b",", b'"', b"[", b"]", b"{", b"}", b":", b"\\",
         b"\x00", b"\xff", b"\xc3", b"\xef\xbb\xbf", "\u2028".encode(), "\x85".encode(),
         b"\x0b", b"\x1c", b"__label__", b"__label__x ", b"-DOCSTART-", b"B-PER", b"I-PER",
         b"E-LOC", b"S-LOC", b"O", b"NaN", b"1e999", b"text", b"label", "é".encode()]
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


def raw_bytes():
    return st.lists(st.one_of(st.sampled_from(NASTY), st.binary(max_size=6)), max_size=30).map(b"".join)


def joined(lines_strategy):
    """Lines joined by random (mixed) line ends, with or without a final one, then maybe
    damaged by a few nasty bytes at random places."""
    @st.composite
    def build(draw):
        lines = draw(lines_strategy)
        ends = [draw(ENDINGS) for _ in lines]
        text = "".join(line + end for line, end in zip(lines, ends))
        if lines and draw(st.booleans()):
            text = text[:-len(ends[-1])]
        data = text.encode("utf-8", errors="surrogatepass")
        for _ in range(draw(st.integers(0, 2))):
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.sampled_from(NASTY)) + data[at:]
        return data
    return build()


def input_for(lines_strategy):
    return st.one_of(raw_bytes(), joined(lines_strategy))


WORD = st.text(st.sampled_from("ab \té\"',:[]{}_\\"), max_size=6)
TAGS = st.sampled_from(["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "NN", "B-", "X"])


def table_lines(sep: str):
    header = st.sampled_from([f"text{sep}label", f"id{sep}sentence{sep}label", "text", ""])
    row = st.lists(WORD, min_size=1, max_size=4).map(sep.join)
    return st.tuples(header, st.lists(row, max_size=6)).map(lambda hr: [hr[0], *hr[1]])


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8)


@st.composite
def json_line(draw):
    kind = draw(st.integers(0, 3))
    if kind == 0:       # random nesting, balanced or not, around the limits that matter
        depth = draw(st.sampled_from([1, 50, 99, 100, 101, 999, 1001, 5000, 200_000]))
        opener = draw(st.sampled_from(["[", '{"a":']))
        close = ("]" if opener == "[" else "}") * depth if draw(st.booleans()) else ""
        return '{"text": "t", "label": "l", "x": ' + opener * depth + "1" + close + "}"
    if kind == 1:
        return json.dumps(draw(json_value))
    record = {"text": draw(json_value), "label": draw(json_value)}
    if kind == 2:
        record = {"text": draw(WORD), "label": draw(st.one_of(WORD, st.integers()))}
    return json.dumps(record, ensure_ascii=draw(st.booleans()))


fasttext_line = st.lists(st.one_of(st.sampled_from(["__label__pos", "__label__", "__label__a\t"]), WORD),
                         max_size=5).map(" ".join)
conll_line = st.one_of(st.just(""), st.just("-DOCSTART- -X- O"),
                       st.tuples(WORD, st.sampled_from([" ", "\t"]), TAGS).map("".join))
vector_line = st.one_of(
    st.sampled_from(["2 3", "3 0", "2 \u00b2", "9" * 30 + " 2"]),
    st.tuples(st.sampled_from(["a", "b", "A", "zz", ""]),
              st.lists(st.sampled_from(["0.5", "-1", "nan", "inf", "x", "", "1e999", "1_0"]),
                       max_size=4)).map(lambda wv: " ".join([wv[0], *wv[1]])))


def check_error(exc: Exception, *paths) -> None:
    message = str(exc)
    assert len(message.splitlines()) == 1, message
    assert any(str(path) in message for path in paths), message


def attempt(call, *paths):
    """call() -> its result, or None after checking its DataError/UsageError."""
    try:
        return call()
    except (DataError, UsageError) as exc:
        check_error(exc, *paths)
        return None


def write(workdir, name: str, data: bytes):
    path = workdir / name
    path.write_bytes(data)
    return path


def expected_lines(data: bytes) -> int:
    """Lines split on "\\n" only; a final "\\n" ends a line rather than starting one. A
    leading UTF-8 BOM marks the encoding and is no text of its own."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return b"\x00" not in data


@given(input_for(st.lists(WORD, max_size=8)))
@PROPERTY
def test_plain_text_keeps_every_line(workdir, data):
    path = write(workdir, "plain.txt", data)
    listed = attempt(lambda: read_lines(path, allow_empty=True), path)
    streamed = attempt(lambda: list(iter_lines(path)), path)
    attempt(lambda: read_text(path), path)
    assert (listed is None) == (streamed is None) == (not is_text(data))
    if listed is not None:
        assert len(listed) == expected_lines(data)
        assert [line for _, line in streamed] == listed
        assert [number for number, _ in streamed] == list(range(1, len(listed) + 1))


def feed_rows(fmt: str, path) -> None:
    rows = InputRows(fmt, str(path))
    for number, line in iter_lines(path):
        text, _ = rows.parse(number, line)
        assert text is None or (isinstance(text, str) and text.strip())


@pytest.mark.parametrize("fmt, lines", [
    ("tsv", table_lines("\t")), ("csv", table_lines(",")),
    ("jsonl", st.lists(json_line(), max_size=4)), ("fasttext", st.lists(fasttext_line, max_size=6)),
])
@given(data=st.data())
@PROPERTY
def test_labelled_readers_and_input_rows(workdir, fmt, lines, data):
    content = data.draw(input_for(lines))
    path = write(workdir, f"labelled.{fmt}", content)
    examples = attempt(lambda: read_labelled(path, fmt), path)
    for example in examples or ():
        assert example.text.strip() and example.label.strip() and example.line >= 1
    attempt(lambda: feed_rows(fmt, path), path)


@given(input_for(st.lists(conll_line, max_size=10)), st.booleans())
@PROPERTY
def test_conll_reader_and_scheme_detection(workdir, content, tab):
    path = write(workdir, "tags.conll", content)
    sentences = attempt(lambda: read_conll(path, sep="\t" if tab else None), path)
    attempt(lambda: list(iter_conll(path, tag_column=None)), path)
    if sentences:
        attempt(lambda: detect_file_scheme(sentences, path), path)
        tags = [s.tags for s in sentences]
        shifted = [t[1:] + t[:1] for t in tags]
        attempt(lambda: compare_tag_files(tags, shifted, gold_name=str(path), pred_name=str(path)), path)


@given(input_for(st.lists(WORD, max_size=5)), input_for(st.lists(WORD, max_size=5)), st.booleans())
@PROPERTY
def test_parallel_files(workdir, src_data, tgt_data, skip_empty):
    src, tgt = write(workdir, "p.src", src_data), write(workdir, "p.tgt", tgt_data)
    pairs = attempt(lambda: read_parallel(src, tgt, skip_empty), src, tgt)
    if pairs is not None:
        assert len(pairs.src) == len(pairs.tgt) == len(pairs.line_numbers)
        if not skip_empty:
            assert len(pairs) == expected_lines(src_data) == expected_lines(tgt_data)
    refs = attempt(lambda: read_references([tgt], expected_lines(src_data), src), src, tgt)
    if refs is not None:
        assert len(refs[0]) == expected_lines(src_data)


@given(input_for(st.lists(vector_line, max_size=6)), st.sampled_from([None, 2]))
@PROPERTY
def test_word_vectors(workdir, content, dim):
    path = write(workdir, "vectors.txt", content)
    result = attempt(lambda: load_vectors(path, {"a": 0, "A": 1, "b": 2}, dim), path)
    if result is not None:
        vectors, width = result
        assert width >= 1 and all(len(v) == width for v in vectors.values())


tag_sequences = st.lists(st.lists(TAGS, min_size=1, max_size=6), min_size=1, max_size=5)


@given(tag_sequences, st.data(), st.sampled_from([None, "iob1", "iob2", "bioes", "none", "bio"]))
@PROPERTY
def test_tag_comparison_never_crashes(gold, data, scheme):
    pred = [data.draw(st.lists(TAGS, min_size=len(s), max_size=len(s))) for s in gold]
    try:
        report = compare_tag_files(gold, pred, scheme, gold_name="g.conll", pred_name="p.conll")
    except UsageError as exc:
        assert len(str(exc).splitlines()) == 1
        return
    assert 0.0 <= report["f1"] <= 1.0 and 0.0 <= report["accuracy"] <= 1.0
