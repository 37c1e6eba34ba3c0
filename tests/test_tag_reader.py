"""CoNLL reader: columns, sentence boundaries, -DOCSTART-, malformed lines by file:line."""

from __future__ import annotations

import pytest

from rnncli.errors import DataError, UsageError
from rnncli.readers.conll import column_index, format_sentence, iter_conll, read_conll


def write(tmp_path, text: str, name: str = "d.conll"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_sentences_docstart_and_missing_final_blank_line(tmp_path):
    path = write(tmp_path, "-DOCSTART- -X- O\n\nEU NNP I-ORG\nrejects VBZ O\n\n\nPeter NNP I-PER\nBlackburn NNP I-PER")
    sentences = read_conll(path)
    assert [s.words for s in sentences] == [["EU", "rejects"], ["Peter", "Blackburn"]]
    assert [s.tags for s in sentences] == [["I-ORG", "O"], ["I-PER", "I-PER"]]
    assert [s.line for s in sentences] == [3, 7]
    assert sentences[0].rows[0] == ["EU", "NNP", "I-ORG"]


def test_docstart_between_documents_and_crlf(tmp_path):
    path = write(tmp_path, "a X O\r\n\r\n-DOCSTART- -X- O\r\n\r\nb Y B-LOC\r\n")
    assert [s.words for s in read_conll(path)] == [["a"], ["b"]]


@pytest.mark.parametrize("text, line, expected, found", [
    ("a X O\nb Y\n", 2, 3, 2),
    ("a X O\nb Y O\n\nc Y O Z\n", 4, 3, 4),
    ("-DOCSTART- -X- O\n\na O\nb\n", 4, 2, 1),
])
def test_wrong_column_count_names_line_expected_and_found(tmp_path, text, line, expected, found):
    path = write(tmp_path, text)
    with pytest.raises(DataError) as caught:
        read_conll(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ")
    assert f"expected {expected} columns" in message and f"found {found}" in message


def test_single_column_needs_a_tag_column(tmp_path):
    path = write(tmp_path, "word\nother\n")
    with pytest.raises(DataError, match=r":1: expected at least 2 columns"):
        read_conll(path)
    assert [s.words for s in read_conll(path, tag_column=None)] == [["word", "other"]]


def test_tab_separator_keeps_spaces_in_words(tmp_path):
    path = write(tmp_path, "New York\tB-LOC\ncity\tO\n")
    sentence = read_conll(path, sep="\t")[0]
    assert sentence.words == ["New York", "city"] and sentence.tags == ["B-LOC", "O"]
    with pytest.raises(DataError, match=":1: empty column"):
        read_conll(write(tmp_path, "a\t\tO\n", "e.conll"), sep="\t")


def test_empty_and_docstart_only_files_are_errors(tmp_path):
    with pytest.raises(DataError, match="no sentences"):
        read_conll(write(tmp_path, "-DOCSTART- -X- O\n\n"))
    with pytest.raises(DataError, match="empty"):
        read_conll(write(tmp_path, "", "empty.conll"))


def test_columns_and_writer(tmp_path):
    path = write(tmp_path, "EU NNP B-NP I-ORG\n")
    sentence = next(iter_conll(path, word_column=column_index(1, "w"), tag_column=column_index(3, "t")))
    assert sentence.tags == ["B-NP"]
    assert format_sentence(sentence.rows, ["B-ORG"]) == "EU NNP B-NP I-ORG B-ORG\n\n"
    with pytest.raises(UsageError):
        column_index(0, "word-column")
