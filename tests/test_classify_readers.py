"""Labelled readers: each format parsed; each malformed case rejected naming file:line."""

from __future__ import annotations

import pytest

from rnncli.errors import DataError, UsageError
from rnncli.readers.labelled import InputRows, detect_format, read_labelled
from conftest import DATA


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_sample_formats_hold_the_same_examples():
    tsv = read_labelled(DATA / "classify" / "train.tsv")
    jsonl = read_labelled(DATA / "classify" / "train.jsonl")
    fasttext = read_labelled(DATA / "classify" / "train.ft")
    assert len(tsv) == 900
    assert [(e.text, e.label) for e in tsv] == [(e.text, e.label) for e in jsonl] == \
           [(e.text, e.label) for e in fasttext]
    assert tsv[0].line == 2 and jsonl[0].line == 1


def test_tsv_fields_chosen_by_name_and_quotes_kept(tmp_path):
    path = write(tmp_path, "a.tsv", 'id\tsentence\tlabel\n1\tsays "hi"\tpos\n\n2\tbye\tneg\n')
    examples = read_labelled(path)
    assert [(e.text, e.label, e.line) for e in examples] == [('says "hi"', "pos", 2), ("bye", "neg", 4)]
    path = write(tmp_path, "b.tsv", "review\tstars\nfine\t5\n")
    assert read_labelled(path, text_field="review", label_field="stars")[0].label == "5"


def test_csv_with_quoted_comma_and_newline(tmp_path):
    path = write(tmp_path, "a.csv", 'text,label\n"a, b",x\n"multi\nline",y\nplain,x\n')
    examples = read_labelled(path)
    assert [(e.text, e.label, e.line) for e in examples] == [("a, b", "x", 2), ("multi\nline", "y", 3),
                                                              ("plain", "x", 5)]


def test_jsonl_integer_labels_and_fasttext(tmp_path):
    path = write(tmp_path, "a.jsonl", '{"text": "good", "label": 1}\n{"text": "bad", "label": 0}\n')
    assert [e.label for e in read_labelled(path)] == ["1", "0"]
    path = write(tmp_path, "a.txt", "__label__pos  fine day\n__label__neg bad\n")
    assert [(e.text, e.label) for e in read_labelled(path, "fasttext")] == [("fine day", "pos"), ("bad", "neg")]


@pytest.mark.parametrize("name, content, expected", [
    ("a.tsv", "text\tlabel\nok\tx\nno label here\n", "a.tsv:3: expected 2 tab-separated fields"),
    ("a.tsv", "txt\tlabel\nok\tx\n", "a.tsv:1: no text column 'text' or 'sentence'; the columns are 'txt', 'label'"),
    ("a.tsv", "text\tlabel\nok\tx\n \ty\n", "a.tsv:3: empty text"),
    ("a.tsv", "text\tlabel\nok\t\n", "a.tsv:2: empty label"),
    ("a.csv", "text,label\nok,x\none,two,three\n", "a.csv:3: expected 2 comma-separated fields"),
    ("a.jsonl", '{"text": "a", "label": "x"}\n{"text": "b"\n', "a.jsonl:2: invalid JSON"),
    ("a.jsonl", '{"text": "a", "label": "x"}\n["b"]\n', "a.jsonl:2: expected a JSON object"),
    ("a.jsonl", '{"text": "a", "label": "x"}\n{"body": "b", "label": "x"}\n',
     "a.jsonl:2: no text column 'text' or 'sentence'; the columns are 'body', 'label'"),
    ("a.jsonl", '{"text": "", "label": "x"}\n', "a.jsonl:1: empty text"),
    ("a.jsonl", '{"text": "a", "label": [1]}\n', "a.jsonl:1: label field 'label' must be a string"),
    ("a.ft", "__label__x fine\nno label\n", "a.ft:2: expected a line starting with __label__LABEL"),
    ("a.ft", "__label__x fine\n__label__y\n", "a.ft:2: empty text"),
    ("a.ft", "__label__x __label__y two labels\n", "a.ft:1: more than one label"),
    ("a.tsv", b"text\tlabel\nok\tx\nbad \xff byte\ty\n", "a.tsv:3: invalid UTF-8 byte 0xff"),
    ("a.tsv", "text\tlabel\n", "a.tsv: no examples"),
])
def test_malformed_input_names_file_and_line(tmp_path, name, content, expected):
    path = write(tmp_path, name, content)
    with pytest.raises(DataError) as info:
        read_labelled(path)
    assert str(info.value).startswith(str(tmp_path / expected.split(":")[0])), str(info.value)
    assert expected in str(info.value)


def test_format_detection():
    assert detect_format("x.TSV") == "tsv" and detect_format("x.ndjson") == "jsonl"
    assert detect_format("x.txt", "fasttext") == "fasttext"
    with pytest.raises(UsageError, match="--format"):
        detect_format("x.txt")
    with pytest.raises(UsageError, match="not one of"):
        detect_format("x.tsv", "xml")


def test_input_rows_pass_fields_through():
    rows = InputRows("tsv", "in.tsv")
    assert rows.parse(1, "id\ttext") == (None, ["id", "text"])
    assert rows.parse(2, "7\tnice") == ("nice", ["7", "nice"])
    assert rows.parse(3, "") == (None, None)
    with pytest.raises(DataError, match="in.tsv:4: expected 2"):
        rows.parse(4, "only")
    jsonl = InputRows("jsonl", "in.jsonl")
    assert jsonl.parse(1, '{"id": 3, "sentence": "ok"}') == ("ok", {"id": 3, "sentence": "ok"})
    assert InputRows("text", "-").parse(1, "   ") == (None, "   ")
