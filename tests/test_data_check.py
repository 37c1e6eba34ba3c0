"""`rnncli data check`: one crafted file per problem, each named by file:line; exit codes
0 (clean), 1 (warnings only), 2 (errors or bad usage); the --json shape; every task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DATA, run_subprocess

from rnncli.datacheck.stats import EXACT, HashIndex, LengthStats, hash64


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def check(cli, *args):
    """(exit code, report) of `data check ... --json`."""
    result = cli("data", "check", *args, "--json")
    assert result.err == "", result.err
    return result.code, json.loads(result.out)


def finding(report, code, file=None):
    found = [f for f in report["findings"] if f["code"] == code and (file is None or f["file"] == str(file))]
    assert found, f"no {code} finding in {[f['code'] for f in report['findings']]}"
    return found[0]


def codes(report):
    return sorted(f["code"] for f in report["findings"])


def tsv(*rows: str) -> str:
    return "sentence\tlabel\n" + "".join(row + "\n" for row in rows)


BALANCED = [f"text number {i} here\t{'pos' if i % 2 else 'neg'}" for i in range(20)]


# ---- clean data and the JSON shape --------------------------------------------------------

def test_clean_classify_data_exits_0_with_the_json_shape(cli, tmp_path):
    train = write(tmp_path / "train.tsv", tsv(*BALANCED))
    valid = write(tmp_path / "valid.tsv", tsv("another one\tpos", "and one more\tneg"))
    code, report = check(cli, "--task", "classify", "--train", train, "--valid", valid)
    assert code == 0 and report["status"] == "clean" and report["exit_code"] == 0
    assert set(report) == {"task", "status", "exit_code", "summary", "files", "pairs", "findings", "methods"}
    assert report["summary"] == {"error": 0, "warning": 0, "note": 0} and report["findings"] == []
    entry = report["files"][0]
    assert entry["role"] == "train" and entry["path"] == str(train) and entry["records"] == 20
    assert entry["encoding"] == "utf-8" and entry["line_endings"] == "lf" and entry["lines"] == 21
    assert entry["labels"]["counts"] == {"pos": 10, "neg": 10} and entry["labels"]["imbalance"] == 1.0
    lengths = entry["lengths"]
    assert lengths["unit"] == "words" and lengths["min"] == lengths["max"] == 4 and lengths["p50"] == 4
    assert report["pairs"]["overlap"]["overlapping"] == 0
    assert "percentiles" in report["methods"] and "duplicates" in report["methods"]


def test_positional_files_and_the_text_view(cli, tmp_path):
    train = write(tmp_path / "train.tsv", tsv(*BALANCED, BALANCED[3]))
    result = cli("data", "check", "--task", "classify", train)
    assert result.code == 1
    assert "data check: classify" in result.out and "findings" in result.out and "warning" in result.out
    assert result.out.rstrip().endswith("warnings: 0 error(s), 1 warning(s), 0 note(s)")


# ---- bytes and lines -----------------------------------------------------------------------

def test_invalid_utf8_and_nul_bytes_are_errors_naming_line_and_column(cli, tmp_path):
    data = tsv(*BALANCED[:4]).encode() + b"caf\xe9 latin-1\tpos\n" + b"nul \x00 byte\tneg\n"
    train = write(tmp_path / "train.tsv", data)
    code, report = check(cli, "--task", "classify", "--train", train)
    assert code == 2 and report["status"] == "errors"
    bad = finding(report, "invalid-utf8")
    assert (bad["file"], bad["line"]) == (str(train), 6) and "0xe9 at column 4" in bad["message"]
    nul = finding(report, "nul-byte")
    assert nul["line"] == 7 and "column 5" in nul["message"]
    assert report["files"][0]["encoding"] == "invalid utf-8"


def test_line_endings_crlf_is_a_note_mixed_a_warning(cli, tmp_path):
    crlf = write(tmp_path / "crlf.txt", "one line here\r\ntwo lines here\r\n")
    code, report = check(cli, "--task", "lm", crlf)
    assert code == 0 and codes(report) == ["crlf"] and report["files"][0]["line_endings"] == "crlf"
    mixed = write(tmp_path / "mixed.txt", "one line here\r\ntwo lines here\nthree\r\n")
    code, report = check(cli, "--task", "lm", mixed)
    assert code == 1 and "mixed-line-endings" in codes(report)
    assert report["files"][0]["line_endings"] == "mixed" and report["files"][0]["crlf_lines"] == 2


def test_bom_missing_final_newline_and_empty_lines(cli, tmp_path):
    text = write(tmp_path / "t.txt", b"\xef\xbb\xbfa first line\n\n   \nlast line")
    code, report = check(cli, "--task", "lm", text)
    assert code == 0
    assert finding(report, "bom")["line"] == 1
    assert finding(report, "no-final-newline")["line"] == 4
    empty = finding(report, "empty-lines")
    assert empty["count"] == 2 and [e["line"] for e in empty["examples"]] == [2, 3] and empty["level"] == "note"


def test_an_empty_file_is_an_error(cli, tmp_path):
    code, report = check(cli, "--task", "lm", write(tmp_path / "empty.txt", ""))
    assert code == 2 and "empty-file" in codes(report)


# ---- classification: labels, lengths, duplicates, leakage -------------------------------------

def test_unseen_validation_labels_and_imbalance(cli, tmp_path):
    train = write(tmp_path / "train.tsv", tsv(*[f"good film {i}\tpos" for i in range(30)], "bad film\tneg"))
    valid = write(tmp_path / "valid.tsv", tsv("fine film\tpos", "so so film\tneutral", "meh film\tneutral"))
    code, report = check(cli, "--task", "classify", "--train", train, "--valid", valid)
    assert code == 2
    unseen = finding(report, "unseen-label", valid)
    assert unseen["level"] == "error" and unseen["line"] == 3 and unseen["count"] == 2 and "'neutral'" in unseen["message"]
    imbalance = finding(report, "label-imbalance", train)
    assert imbalance["level"] == "warning" and "30x" in imbalance["message"]
    assert report["pairs"]["labels"]["unseen_in_training"] == ["neutral"]
    code, report = check(cli, "--task", "classify", "--train", train, "--valid", valid, "--allow-unseen-labels")
    assert code == 1 and finding(report, "unseen-label")["level"] == "warning"


def test_duplicates_conflicting_labels_and_train_valid_overlap(cli, tmp_path):
    train = write(tmp_path / "train.tsv", tsv(*BALANCED, BALANCED[2], "text number 4 here\tpos"))
    valid = write(tmp_path / "valid.tsv", tsv("fresh text\tpos", "text number 7 here\tpos"))
    code, report = check(cli, "--task", "classify", "--train", train, "--valid", valid)
    assert code == 1
    dup = finding(report, "duplicates", train)
    assert dup["line"] == 22 and dup["count"] == 1 and dup["examples"][0]["detail"] == "repeats line 4"
    conflict = finding(report, "conflicting-labels", train)
    assert conflict["line"] == 23 and conflict["examples"][0]["detail"] == "label differs from line 6"
    leak = finding(report, "train-valid-overlap", valid)
    assert leak["line"] == 3 and leak["examples"][0]["detail"] == f"also {train}:9"
    assert report["pairs"]["overlap"] == {"valid": str(valid), "train": str(train), "overlapping": 1, "share": 0.5}


def test_max_length_and_bad_records(cli, tmp_path):
    long_text = " ".join(["word"] * 12)
    train = write(tmp_path / "train.tsv", tsv(*BALANCED, f"{long_text}\tpos", "no label column here", "\tneg"))
    code, report = check(cli, "--task", "classify", "--train", train, "--max-len", "10")
    assert code == 2
    over = finding(report, "over-max-len")
    assert over["count"] == 1 and over["line"] == 22 and "--max-length 10" in over["message"]
    bad = finding(report, "bad-record")
    assert bad["line"] == 23 and bad["count"] == 2 and [e["line"] for e in bad["examples"]] == [23, 24]
    assert report["files"][0]["lengths"]["longer_than"] == {"10": 1}


@pytest.mark.parametrize("name, content", [
    ("train.jsonl", "".join(json.dumps({"text": f"text {i} here", "label": i % 2}) + "\n" for i in range(6))
     + '{"text": "broken\n'),
    ("train.ft", "".join(f"__label__{i % 2} text {i} here\n" for i in range(6)) + "no label\n"),
    ("train.csv", "text,label\n" + "".join(f'"text, {i}",{i % 2}\n' for i in range(6)) + "a,b,c\n"),
])
def test_other_labelled_formats_name_the_bad_line(cli, tmp_path, name, content):
    code, report = check(cli, "--task", "classify", write(tmp_path / name, content))
    assert code == 2 and finding(report, "bad-record")["line"] == (7 if not name.endswith(".csv") else 8)
    assert report["files"][0]["records"] == 6 and report["files"][0]["labels"]["distinct"] == 2


# ---- tagging ---------------------------------------------------------------------------------

def conll(*sentences: list[str]) -> str:
    return "\n".join("".join(f"{token}\n" for token in sentence) for sentence in sentences)


def test_tag_scheme_contradictions_are_listed_by_line(cli, tmp_path):
    good = ["John S-PER", "lives O", "in O", "New B-LOC", "York E-LOC"]
    train = write(tmp_path / "train.conll", conll(good, ["Mary B-PER", "sings O"], good))
    # line 7 opens an entity (B-PER) that line 8 (O) never closes: BIOES forbids it
    code, report = check(cli, "--task", "tag", "--train", train)
    assert code == 2 and report["files"][0]["scheme"] == "bioes"
    invalid = finding(report, "invalid-transition", train)
    assert invalid["level"] == "error" and invalid["line"] == 7 and invalid["count"] == 1
    assert invalid["examples"][0]["detail"] == "'B-PER' left open: followed by 'O'"
    valid = write(tmp_path / "valid.conll", conll(good, ["Ann I-PER", "runs O"]))
    code, report = check(cli, "--task", "tag", "--train", write(tmp_path / "ok.conll", conll(good)), "--valid", valid)
    assert code == 1
    lenient = finding(report, "invalid-transition", valid)
    assert lenient["level"] == "warning" and lenient["line"] == 7
    assert lenient["examples"][0]["detail"] == "'I-PER' left open: followed by 'O'"


def test_tag_columns_types_and_overlap(cli, tmp_path):
    sentence = ["EU B-ORG x", "rejects O x", "German B-MISC x", "call O x"]
    train = write(tmp_path / "train.conll", "-DOCSTART- O x\n\n" + conll(sentence, ["Peter B-PER x", "ok O"]))
    valid = write(tmp_path / "valid.conll", conll(sentence, ["Paris B-LOC x"]))
    code, report = check(cli, "--task", "tag", "--train", train, "--valid", valid, "--scheme", "iob2",
                         "--tag-column", "2")
    assert code == 2
    columns = finding(report, "bad-columns", train)
    assert columns["line"] == 9 and "expected 3 columns" in columns["message"]
    unseen = finding(report, "unseen-label", valid)
    assert unseen["level"] == "warning" and unseen["line"] == 6 and "'LOC'" in unseen["message"]
    leak = finding(report, "train-valid-overlap", valid)
    assert leak["line"] == 1 and leak["examples"][0]["detail"] == f"also {train}:3"
    assert report["files"][0]["lengths"]["unit"] == "tokens" and report["files"][0]["records"] == 2


def test_real_samples_of_every_task_are_checked(cli):
    code, report = check(cli, "--task", "tag", DATA / "tag" / "train.iob1.conll", DATA / "tag" / "valid.iob1.conll")
    assert code in (0, 1) and report["files"][0]["scheme"] == "iob1"
    code, report = check(cli, "--task", "lm", "--train", DATA / "lm" / "train.txt", "--valid", DATA / "lm" / "valid.txt")
    assert code in (0, 1) and report["files"][1]["role"] == "valid"
    code, report = check(cli, "--task", "classify", DATA / "classify" / "train.jsonl", DATA / "classify" / "valid.jsonl")
    assert code in (0, 1) and report["files"][0]["format"] == "jsonl"


# ---- translation -----------------------------------------------------------------------------

def test_parallel_files_alignment_empty_sides_and_length(cli, tmp_path):
    src = write(tmp_path / "train.en", "a small dog\n\nthe cat sleeps\n" + " ".join(["w"] * 9) + "\n")
    tgt = write(tmp_path / "train.de", "ein kleiner hund\nleer\ndie katze schläft\nkurz\n")
    code, report = check(cli, "--task", "translate", "--train-src", src, "--train-tgt", tgt, "--max-len", "5")
    assert code == 1
    empty = finding(report, "empty-side", src)
    assert empty["line"] == 2 and empty["examples"][0]["detail"] == "empty source"
    over = finding(report, "over-max-len", src)
    assert over["line"] == 4 and over["count"] == 1 and "at least 1 pair" in over["message"]
    assert report["files"][0]["lengths"]["max"] == 9 and report["pairs"]["train_aligned"] is True
    short = write(tmp_path / "short.de", "ein kleiner hund\n")
    code, report = check(cli, "--task", "translate", src, short)
    assert code == 2
    mismatch = finding(report, "line-count-mismatch")
    assert "has 4 lines but" in mismatch["message"] and "has 1 lines" in mismatch["message"]


def test_translation_overlap_and_duplicates(cli, tmp_path):
    src = write(tmp_path / "t.en", "one\ntwo\none\n")
    tgt = write(tmp_path / "t.de", "eins\nzwei\neins\n")
    vsrc, vtgt = write(tmp_path / "v.en", "three\ntwo\n"), write(tmp_path / "v.de", "drei\nzwei\n")
    code, report = check(cli, "--task", "translate", src, tgt, vsrc, vtgt)
    assert code == 1
    assert finding(report, "duplicates", src)["examples"][0] == {"file": str(src), "line": 3, "detail": "repeats line 1"}
    assert finding(report, "train-valid-overlap", vsrc)["examples"][0]["detail"] == f"also {src}:2"


# ---- time series -----------------------------------------------------------------------------

def test_series_frequency_gaps_duplicates_and_missing_values(cli, tmp_path):
    rows = ["2020-01,10", "2020-02,", "2020-03,12", "2020-05,14", "2020-06,15", "2020-06,15", "2020-07,abc"]
    series = write(tmp_path / "s.csv", "month,value\n" + "\n".join(rows) + "\n")
    code, report = check(cli, "--task", "forecast", series)
    assert code == 2
    entry = report["files"][0]
    assert entry["time_column"] == "month" and entry["targets"] == ["value"]
    one = entry["series"][0]
    assert one["frequency"] == "monthly" and one["gaps"] == 1 and one["missing_steps"] == 1
    assert one["duplicates"] == 1 and one["missing_values"] == {"value": 1}
    assert finding(report, "gap")["line"] == 5 and "'2020-05' after '2020-03'" in finding(report, "gap")["message"]
    assert finding(report, "duplicate-timestamp")["line"] == 7
    missing = finding(report, "missing-values")
    assert missing["level"] == "warning" and missing["line"] == 3
    assert finding(report, "bad-value")["line"] == 8


def test_series_long_layout_and_options(cli, tmp_path):
    body = "".join(f"{key},{year},{v}\n" for key in ("a", "b") for year, v in ((2001, 1), (2002, 2), (2003, 3)))
    series = write(tmp_path / "long.csv", "id,year,y\n" + body)
    code, report = check(cli, "--task", "forecast", "--train", series, "--id-column", "id", "--target", "y")
    assert code == 0
    entry = report["files"][0]
    assert entry["layout"] == "long" and entry["series_count"] == 2
    assert [s["frequency"] for s in entry["series"]] == ["yearly", "yearly"]
    code, report = check(cli, "--task", "forecast", series, "--id-column", "nope")
    assert code == 2 and "no column 'nope'" in finding(report, "bad-columns")["message"]


def test_real_series_samples(cli):
    code, report = check(cli, "--task", "forecast", DATA / "forecast" / "trading_days.csv")
    assert code == 0 and report["files"][0]["series"][0]["frequency"] == "trading-day"
    code, report = check(cli, "--task", "forecast", DATA / "forecast" / "yearly.jsonl")
    assert code == 0 and report["files"][0]["series"][0]["frequency"] == "yearly"


# ---- usage -----------------------------------------------------------------------------------

def test_usage_errors_are_one_line_exit_2(cli, tmp_path):
    train = write(tmp_path / "train.tsv", tsv(*BALANCED))
    for args, text in ((["--task", "classify", "--train-src", train], "--train-src is not an input of classify"),
                       (["--task", "nope", train], "unknown task 'nope'"),
                       (["--task", "classify"], "give the classify training data"),
                       (["--task", "lm", train, train, train], "takes at most 2"),
                       (["--task", "classify", tmp_path / "missing.tsv"], "no such file"),
                       (["--task", "classify", tmp_path], "is a directory")):
        result = cli("data", "check", *args)
        assert result.code == 2 and result.out == "", (args, result.out)
        assert result.err.count("\n") == 1 and text in result.err, (args, result.err)


def test_stdin_and_a_real_process(tmp_path):
    result = run_subprocess("data", "check", "--task", "lm", "-", "--json", input="line one\nline one two\n")
    assert result.code == 0, result.err
    assert json.loads(result.out)["files"][0]["path"] == "<stdin>"


# ---- the bounded structures ------------------------------------------------------------------

def test_length_percentiles_are_exact_below_1024_and_within_1_percent_above():
    lengths = LengthStats("words", [100])
    values = list(range(1, 101)) + [5000] * 10
    for value in values:
        lengths.add(value)
    assert lengths.percentile(50) == 55 and lengths.percentile(90) == 99 and lengths.over[100] == 10
    assert 0.99 * 5000 <= lengths.percentile(99) <= 5000 and lengths.to_dict()["max"] == 5000
    big = LengthStats("words")
    for value in range(EXACT, 20 * EXACT):
        big.add(value)
    true = EXACT + int(0.9 * 19 * EXACT)
    assert abs(big.percentile(90) - true) / true < 0.01


def test_hash_index_duplicates_and_overlap():
    train, valid = HashIndex(), HashIndex()
    for line, text in enumerate(["a", "b", "a", "c", "a"], start=1):
        train.add(hash64(text), line)
    for line, text in enumerate(["c", "z", "a"], start=10):
        valid.add(hash64(text), line)
    count, pairs, _, _ = train.duplicates()
    assert count == 2 and pairs == [(3, 1), (5, 1)]
    assert valid.overlap(train) == (2, [(10, 4), (12, 1)])
    assert HashIndex().duplicates()[0] == 0 and HashIndex().overlap(train) == (0, [])


def test_a_bad_freq_is_a_usage_error_and_a_malformed_csv_row_a_finding(cli, tmp_path):
    series = write(tmp_path / "s.csv", 'month,value\n2020-01,1\n2020-02,"2\n2020-03,3\n')
    result = cli("data", "check", "--task", "forecast", series, "--freq", "fortnightly")
    assert result.code == 2 and result.err.count("\n") == 1 and "freq 'fortnightly'" in result.err
    code, report = check(cli, "--task", "forecast", series)
    assert code == 2 and finding(report, "bad-record")["line"] == 3
