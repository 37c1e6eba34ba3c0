"""Hostile input to the readers: deep JSON, mixed tag schemes, NUL bytes, unreadable
paths, non-finite gates, predictions in another scheme, CSV/fastText inference input.

Each case is a DataError (or UsageError) of one line naming the file and, where there is
one, the line; never another exception. New functions are reached through their module
(`schemes.detect_file_scheme`) so that each test fails on its own where one is missing.
"""

from __future__ import annotations

import errno
import io
import os
import subprocess
import sys

import pytest
from seqeval.metrics import f1_score, precision_score, recall_score
from seqeval.scheme import IOB2, IOBES

from rnncli import metrics, schemes
from rnncli.embeddings import load_vectors
from rnncli.errors import DataError, UsageError
from rnncli.metrics import tagging
from rnncli.readers import text as text_reader
from rnncli.readers.conll import read_conll
from rnncli.readers.labelled import InputRows, read_labelled
from rnncli.readers.parallel import read_parallel
from rnncli.readers.text import iter_lines, read_lines, read_text
from conftest import DATA, ROOT


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def one_line(exc: Exception) -> str:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, message
    return message


# 1. Deeply nested JSON ---------------------------------------------------------------

DEEP = "[" * 200_000


def test_deep_json_in_training_jsonl_names_file_and_line(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"text": "ok", "label": "x"}\n' + DEEP + "\n")
    with pytest.raises(DataError) as info:
        read_labelled(path)
    assert one_line(info.value).startswith(f"{path}:2: JSON nested too deeply")


def test_deep_json_in_inference_rows_names_file_and_line():
    rows = InputRows("jsonl", "in.jsonl")
    with pytest.raises(DataError, match=r"^in\.jsonl:7: JSON nested too deeply"):
        rows.parse(7, DEEP)
    # Nesting that parses but would be one level from a RecursionError when written back.
    record = '{"text": "ok", "meta": ' + "[" * 500 + "]" * 500 + "}"
    with pytest.raises(DataError, match=r"^in\.jsonl:8: JSON nested too deeply"):
        rows.parse(8, record)
    shallow = '{"text": "ok", "meta": [[{"a": [1]}]]}'
    assert rows.parse(9, shallow)[0] == "ok"


@pytest.mark.parametrize("line, expected", [
    ('{"text": "\\ud800 lone", "label": "x"}', "lone UTF-16 surrogate"),
    ('{"text": "a", "label": "x", "score": NaN}', "invalid JSON (NaN is not valid JSON)"),
    ('{"text": "a", "label": "x", "n": ' + "1" * 5000 + "}", "invalid JSON"),
])
def test_json_that_cannot_be_written_back_is_refused(tmp_path, line, expected):
    path = write(tmp_path, "a.jsonl", line + "\n")
    with pytest.raises(DataError) as info:
        read_labelled(path)
    assert one_line(info.value).startswith(f"{path}:1: ") and expected in str(info.value)


def test_surrogate_pairs_are_characters_and_kept(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"text": "smile \\ud83d\\ude00", "label": "x"}\n')
    assert read_labelled(path)[0].text == "smile \U0001F600"


# 2. Tags that mix schemes -----------------------------------------------------------

def conll(tmp_path, sentences: list[list[str]], name: str = "t.conll"):
    blocks = ["".join(f"w{i} {tag}\n" for i, tag in enumerate(tags)) for tags in sentences]
    return read_conll(write(tmp_path, name, "\n".join(blocks))), tmp_path / name


def detect_error(tmp_path, sentences) -> str:
    data, path = conll(tmp_path, sentences)
    with pytest.raises(DataError) as info:
        schemes.detect_file_scheme(data, path)
    return one_line(info.value).removeprefix(str(path))


@pytest.mark.parametrize("sentences, expected", [
    # BIOES file, an IOB1-style entity (lines 1-3, blank 4, then I-LOC on line 6)
    ([["B-PER", "E-PER", "S-LOC"], ["O", "I-LOC", "O"], ["S-PER", "O"], ["B-ORG", "I-ORG", "E-ORG"]],
     ":6: tag 'I-LOC' does not fit BIOES"),
    # BIOES file, an IOB2-style entity: the B- left open is named
    ([["S-PER", "O"], ["B-LOC", "E-LOC"], ["B-ORG", "O"], ["S-MISC"]], ":7: tag 'B-ORG' does not fit BIOES"),
    # IOB2 file, one stray BIOES tag
    ([["B-PER", "I-PER", "O"], ["B-LOC", "O"], ["O", "S-ORG"], ["B-PER", "O", "B-LOC"]],
     ":9: tag 'S-ORG' does not fit IOB2"),
    # IOB2 file, one IOB1 start; IOB1 file, one IOB2 start
    ([["B-PER", "I-PER"], ["O", "B-LOC"], ["I-ORG", "O"], ["B-PER"]], ":7: tag 'I-ORG' does not fit IOB2"),
    ([["I-PER", "I-PER", "B-PER"], ["O", "I-LOC"], ["B-ORG"], ["I-MISC", "O"]],
     ":8: tag 'B-ORG' does not fit IOB1"),
])
def test_mixed_schemes_name_the_first_contradicting_line(tmp_path, sentences, expected):
    message = detect_error(tmp_path, sentences)
    assert message.startswith(expected) and "mixes tag schemes" in message
    data, _ = conll(tmp_path, sentences)
    schemes.detect_scheme([s.tags for s in data])     # the plain detector still answers


def test_lines_are_right_across_docstart_inside_a_sentence(tmp_path):
    path = write(tmp_path, "d.conll", "a S-PER\n-DOCSTART- -X- O\nb O\nc I-LOC\n\nd S-LOC\n")
    data = read_conll(path)
    assert data[0].lines == [1, 3, 4]
    with pytest.raises(DataError, match=r"d\.conll:4: tag 'I-LOC'"):
        schemes.detect_file_scheme(data, path)


@pytest.mark.parametrize("sentences, expected", [
    ([["I-PER", "I-PER", "B-PER"], ["O", "I-LOC"]], "iob1"),
    ([["B-PER", "I-PER", "B-PER"], ["O", "B-LOC"]], "iob2"),
    ([["B-PER", "E-PER", "S-PER"], ["O", "S-LOC"]], "bioes"),
    ([["O", "O"], ["O"]], "iob2"),
    ([["NN", "VBZ"], ["DT", "NN"]], "none"),
    ([["NN", "B-NP"], ["DT", "NN", "VB"]], "none"),     # opaque labels that look like tags
])
def test_consistent_files_are_detected(tmp_path, sentences, expected):
    data, path = conll(tmp_path, sentences)
    assert schemes.detect_file_scheme(data, path) == expected
    assert schemes.detect_scheme([s.tags for s in data]) == expected


def test_sample_files_are_consistent():
    for name, expected in (("train.iob1", "iob1"), ("train.iob2", "iob2"), ("valid.iob1", "iob1")):
        path = DATA / "tag" / f"{name}.conll"
        assert schemes.detect_file_scheme(read_conll(path), path) == expected


def test_one_odd_tag_among_span_tags_is_named(tmp_path):
    message = detect_error(tmp_path, [["B-PER", "I-PER", "O"], ["B-LOC", "PER"], ["O", "B-ORG"]])
    assert message.startswith(":6: tag 'PER' is not a span tag") and "--scheme none" in message


def test_stdin_is_named_as_such():
    class Sentence:
        line, tags = 3, ["S-PER", "I-PER", "O"]
    with pytest.raises(DataError, match=r"^<stdin>:4: tag 'I-PER'"):
        schemes.detect_file_scheme([Sentence()], "-")


# 3. NUL bytes ----------------------------------------------------------------------

BINARY = b"a 1\nsec\x00ond 2\nthird 3\n"


@pytest.mark.parametrize("reader", [
    read_text, read_lines, lambda p: list(iter_lines(p)),
    lambda p: read_conll(p), lambda p: load_vectors(p, {"zz": 0}),
    lambda p: read_labelled(p, "fasttext"), lambda p: read_parallel(p, p),
])
def test_nul_byte_names_file_line_and_column(tmp_path, reader):
    path = write(tmp_path, "bin.txt", BINARY)
    with pytest.raises(DataError) as info:
        reader(path)
    assert one_line(info.value) == f"{path}:2: NUL byte at column 4 (binary file?)"


def test_the_first_of_nul_and_bad_utf8_is_reported(tmp_path):
    path = write(tmp_path, "a.txt", "é\x00x\n".encode() + b"\xff\n")
    with pytest.raises(DataError, match=r"a\.txt:1: NUL byte at column 2"):
        read_text(path)
    path = write(tmp_path, "b.txt", b"\xff\x00\n")   # UTF-16 with a BOM: the encoding hint
    with pytest.raises(DataError, match=r"b\.txt:1: invalid UTF-8 byte 0xff"):
        list(iter_lines(path))


ENDLESS = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))  # a regression fails, not swaps
from rnncli.errors import DataError
from rnncli.readers.text import iter_lines, read_text
for read in (lambda: list(iter_lines("/dev/zero")), lambda: read_text("/dev/zero")):
    try:
        read()
    except DataError as exc:
        print(exc)
"""


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_endless_binary_device_fails_at_once():
    # In a child process with bounded memory: reading /dev/zero whole would never end.
    result = subprocess.run([sys.executable, "-c", ENDLESS], capture_output=True, text=True,
                            timeout=60, cwd=ROOT)
    assert result.stdout.splitlines() == ["/dev/zero:1: NUL byte at column 1 (binary file?)"] * 2, \
        result.stderr[-500:]


# 4. --fail-under must be finite ------------------------------------------------------

@pytest.mark.parametrize("spec", ["accuracy=nan", "f1=inf", "f1=-inf", "f1=NaN", "f1=1e999"])
def test_non_finite_fail_under_is_refused(spec):
    with pytest.raises(UsageError, match="finite"):
        metrics.parse_fail_under([spec])


def test_finite_fail_under_still_parses():
    assert metrics.parse_fail_under(["accuracy=0.8", " f1 = 1e-3"]) == [("accuracy", 0.8, False), ("f1", 0.001, False)]


# 5. Predictions in another scheme than the gold --------------------------------------

GOLD_IOB2 = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["B-ORG", "I-ORG", "I-ORG", "O", "B-PER"],
             ["O", "B-LOC", "B-LOC", "O"], ["B-MISC", "O", "B-PER", "I-PER"]]
# The predictions (a type error, a boundary error, a miss), written by hand in both schemes.
PRED_IOB2 = [["B-PER", "I-PER", "O", "B-ORG", "O"], ["B-ORG", "I-ORG", "O", "O", "B-PER"],
             ["O", "B-LOC", "B-LOC", "O"], ["O", "O", "B-PER", "I-PER"]]
PRED_IOB1 = [["I-PER", "I-PER", "O", "I-ORG", "O"], ["I-ORG", "I-ORG", "O", "O", "I-PER"],
             ["O", "I-LOC", "B-LOC", "O"], ["O", "O", "I-PER", "I-PER"]]


def seqeval_prf(gold, pred, scheme=IOB2):
    kwargs = dict(mode="strict", scheme=scheme, zero_division=0)
    return (precision_score(gold, pred, **kwargs), recall_score(gold, pred, **kwargs),
            f1_score(gold, pred, **kwargs))


def test_iob1_predictions_against_iob2_gold_score_as_their_entities():
    expected = seqeval_prf(GOLD_IOB2, PRED_IOB2)
    assert expected[2] == pytest.approx(2 / 3)                     # 5 correct, 7 predicted, 8 gold
    report = tagging.compare_tag_files(GOLD_IOB2, PRED_IOB1)
    assert (report["precision"], report["recall"], report["f1"]) == pytest.approx(expected)
    assert report["converted"] == "pred iob1 -> iob2" and report["scheme"] == "iob2"
    assert report["invalid_transitions"] == 0                      # valid IOB1, counted as IOB1
    same = tagging.compare_tag_files(GOLD_IOB2, PRED_IOB2)
    assert same["f1"] == pytest.approx(expected[2]) and "converted" not in same
    # what reading the predictions in the gold's scheme gave: I- starts dropped
    assert tagging.tagging_report(GOLD_IOB2, PRED_IOB1, "iob2")["f1"] < 0.3


def test_iob2_predictions_against_iob1_gold_and_user_scheme():
    gold_iob1 = [schemes.convert(tags, "iob2", "iob1") for tags in GOLD_IOB2]
    expected = seqeval_prf(GOLD_IOB2, PRED_IOB2)
    for given in (None, "iob1"):
        report = tagging.compare_tag_files(gold_iob1, PRED_IOB2, given)
        assert report["f1"] == pytest.approx(expected[2]) and report["converted"] == "pred iob2 -> iob1"


def test_bioes_gold_against_iob1_predictions():
    gold = [schemes.convert(tags, "iob2", "bioes") for tags in GOLD_IOB2]
    pred = [schemes.convert(tags, "iob2", "bioes") for tags in PRED_IOB2]
    expected = seqeval_prf(gold, pred, IOBES)
    report = tagging.compare_tag_files(gold, PRED_IOB1)
    assert report["f1"] == pytest.approx(expected[2]) and report["converted"] == "pred iob1 -> bioes"


def test_invalid_predictions_keep_the_gold_scheme():
    pred = [list(tags) for tags in PRED_IOB2]
    pred[0][2] = "I-LOC"                          # one stray I-: a model's error, not IOB1
    report = tagging.compare_tag_files(GOLD_IOB2, pred)
    assert "converted" not in report and report["invalid_transitions"] == 1
    assert report["f1"] == pytest.approx(seqeval_prf(GOLD_IOB2, pred)[2])
    assert "converted" not in tagging.compare_tag_files(GOLD_IOB2, [["O"] * len(t) for t in GOLD_IOB2])


def test_tags_a_given_scheme_cannot_read_are_refused():
    bioes = [schemes.convert(tags, "iob2", "bioes") for tags in GOLD_IOB2]
    with pytest.raises(UsageError, match="gold tag 'E-PER' has no place in IOB2; give --scheme bioes"):
        tagging.tagging_report(bioes, bioes, "iob2")           # seqeval: a bare ValueError
    with pytest.raises(UsageError, match="predicted tag 'NN' has no place in BIOES; give --scheme none"):
        tagging.tagging_report(bioes, [["NN"] * len(t) for t in bioes], "bioes")
    with pytest.raises(UsageError, match="has no place in IOB1"):
        tagging.compare_tag_files(bioes, bioes, "iob1")
    assert tagging.compare_tag_files([["E-PER"]], [["E-PER"]])["scheme"] == "bioes"


def test_spans_against_no_spans_is_refused():
    pos = [["NN", "VB", "DT", "NN", "NN"], ["NN"] * 5, ["DT"] * 4, ["NN"] * 4]
    with pytest.raises(UsageError, match="p.conll has tags without spans.*g.conll is IOB2"):
        tagging.compare_tag_files(GOLD_IOB2, pos, gold_name="g.conll", pred_name="p.conll")
    with pytest.raises(UsageError, match="gold has tags without spans"):
        tagging.compare_tag_files(pos, PRED_IOB2)
    assert tagging.compare_tag_files(pos, pos)["f1"] == 1.0
    assert tagging.compare_tag_files(GOLD_IOB2, PRED_IOB1, "none")["mode"].startswith("token level")
    with pytest.raises(UsageError, match="--scheme 'xml'"):
        tagging.compare_tag_files(GOLD_IOB2, PRED_IOB1, "xml")


# 6. CSV and fastText inference input -------------------------------------------------

def test_csv_input_rows():
    rows = InputRows("csv", "in.csv")
    assert rows.parse(1, "id,text") == (None, ["id", "text"]) and rows.header == ["id", "text"]
    assert rows.parse(2, '7,"a, quoted ""text"""') == ('a, quoted "text"', ["7", 'a, quoted "text"'])
    assert rows.parse(3, "") == (None, None)
    assert rows.parse(4, "8,  ") == (None, ["8", "  "])
    with pytest.raises(DataError, match=r"^in\.csv:5: expected 2 comma-separated fields"):
        rows.parse(5, "1,2,3")
    with pytest.raises(DataError, match=r"^in\.csv:6: unterminated quoted CSV field"):
        rows.parse(6, '9,"starts here')
    with pytest.raises(DataError, match=r"^in\.csv:1: no text column"):
        InputRows("csv", "in.csv").parse(1, "id,body")
    chosen = InputRows("csv", "in.csv", text_field="body")
    chosen.parse(1, "body,id")
    assert chosen.parse(2, "hello,1") == ("hello", ["hello", "1"])


def test_fasttext_input_rows():
    rows = InputRows("fasttext", "in.ft")
    assert rows.parse(1, "__label__pos  a fine day") == ("a fine day", {"text": "a fine day", "labels": ["pos"]})
    assert rows.parse(2, "__label__a\t__label__b two") == ("two", {"text": "two", "labels": ["a", "b"]})
    assert rows.parse(3, "no label at all") == ("no label at all", {"text": "no label at all", "labels": []})
    assert rows.parse(4, "__label__neg") == (None, {"text": "", "labels": ["neg"]})
    assert rows.parse(5, "   ") == (None, None)
    assert rows.parse(6, "text with __label__x inside")[0] == "text with __label__x inside"


def test_input_rows_formats_listed_in_error():
    with pytest.raises(UsageError, match="text, tsv, csv, jsonl, fasttext"):
        InputRows("xml", "in.xml")


def test_training_fasttext_splits_on_tabs_too(tmp_path):
    path = write(tmp_path, "a.ft", "__label__pos\tgood\n")
    assert [(e.text, e.label) for e in read_labelled(path)] == [("good", "pos")]


def test_csv_bare_carriage_return_is_named(tmp_path):
    path = write(tmp_path, "a.csv", "text,label\nok,x\nbro\rken,y\n")
    with pytest.raises(DataError, match=r"a\.csv:3: malformed CSV \(a bare"):
        read_labelled(path)


# 7. Unreadable paths ----------------------------------------------------------------

def deny(monkeypatch, error=PermissionError(errno.EACCES, "Permission denied")):
    def refuse(*args, **kwargs):
        raise error
    monkeypatch.setattr(text_reader, "open", refuse, raising=False)


@pytest.mark.parametrize("reader", [
    read_text, lambda p: list(iter_lines(p)), read_conll, lambda p: load_vectors(p, {"a": 0}),
    lambda p: read_labelled(p, "tsv"), lambda p: read_parallel(p, p),
])
def test_permission_denied_is_a_data_error(tmp_path, monkeypatch, reader):
    path = write(tmp_path, "a.txt", "a b\n")
    deny(monkeypatch)
    with pytest.raises(DataError) as info:
        reader(path)
    assert one_line(info.value) == f"{path}: cannot read (Permission denied)"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_real_permission_denied(tmp_path):
    path = write(tmp_path, "secret.txt", "a b\n")
    path.chmod(0)
    for reader in (read_text, lambda p: list(iter_lines(p))):
        with pytest.raises(DataError, match=r"secret\.txt: cannot read \(Permission denied\)$"):
            reader(path)


def test_io_error_while_reading_names_the_line(tmp_path, monkeypatch):
    class Failing(io.BytesIO):
        def readline(self, *args):
            if self.tell() > 0:
                raise OSError(errno.EIO, "Input/output error")
            return super().readline(*args)
    path = write(tmp_path, "a.txt", "one\ntwo\n")
    monkeypatch.setattr(text_reader, "open", lambda *a, **k: Failing(b"one\ntwo\n"), raising=False)
    with pytest.raises(DataError, match=r"a\.txt:2: cannot read \(Input/output error\)$"):
        list(iter_lines(path))


@pytest.mark.parametrize("reader", [
    read_text, lambda p: list(iter_lines(p)), read_conll, lambda p: load_vectors(p, {"a": 0}),
    lambda p: read_labelled(p, "jsonl"),
])
def test_directory_is_a_data_error(tmp_path, reader):
    with pytest.raises(DataError) as info:
        reader(tmp_path)
    assert one_line(info.value) == f"{tmp_path}: is a directory, expected a text file"


def test_nul_in_a_path_is_a_data_error():
    with pytest.raises(DataError, match="invalid file name"):
        list(iter_lines("a\x00b"))


# Word vectors ------------------------------------------------------------------------

def test_a_unicode_digit_is_not_a_header(tmp_path):
    path = write(tmp_path, "v.txt", "2 \u00b2\nb 0.5\n")    # "²".isdigit() is True; int() refuses it
    with pytest.raises(DataError, match=r"v\.txt:1: a vector value is not a number"):
        load_vectors(path, {"2": 0})
    assert load_vectors(path, {"b": 0}) == ({0: [0.5]}, 1)


@pytest.mark.parametrize("content, expected", [
    ("3 0\na\n", ":1: the header gives a vector dimension of 0"),
    ("a\n", ":1: no vector values"),
    ("a 0.1 nan\n", ":1: a vector value is not finite"),
    ("a 0.1 0.2\na inf 1\n", ":2: a vector value is not finite"),
])
def test_vector_files_are_checked(tmp_path, content, expected):
    path = write(tmp_path, "v.txt", content)
    with pytest.raises(DataError) as info:
        load_vectors(path, {"a": 0})
    assert one_line(info.value).startswith(str(path)) and expected in str(info.value)
