import pytest

from rnncli.errors import DataError
from rnncli.readers.text import iter_lines, read_lines, read_text


def test_invalid_utf8_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine\nalso fine\nbroken \xff here\n")
    with pytest.raises(DataError) as info:
        read_text(path)
    assert str(info.value).startswith(f"{path}:3: invalid UTF-8 byte 0xff at column 8")
    with pytest.raises(DataError, match=":3: invalid UTF-8"):
        list(iter_lines(path))


def test_empty_and_missing_files_are_rejected(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        read_text(empty)
    with pytest.raises(DataError, match="no such file"):
        read_text(tmp_path / "missing.txt")
    with pytest.raises(DataError, match="directory"):
        read_text(tmp_path)


def test_lines_split_on_newline_only(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("a\u2028b\x0bc\nsecond\r\n\nlast", encoding="utf-8")
    assert read_lines(path) == ["a\u2028b\x0bc", "second", "", "last"]
    assert [n for n, _ in iter_lines(path)] == [1, 2, 3, 4]


def test_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffhello\n".encode("utf-8"))
    assert read_lines(path) == ["hello"]
