"""Big files (issue 13): -o grows through OUT.partial, a stop keeps the finished lines,
--continue gives the file an uninterrupted run gives, many files in one process, progress
bars only on terminals, and a start-up path free of the scoring libraries."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import rnncli
from conftest import DATA, ROOT


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bigfiles")
    rnncli.train("classify", train=DATA / "classify/train.tsv", valid=DATA / "classify/valid.tsv",
                 out=root / "cls", hidden=16, embed=16, vocab_size=200, max_steps=3)
    rnncli.train("tag", train=DATA / "tag/train.iob1.conll", valid=DATA / "tag/valid.iob1.conll",
                 out=root / "tag", hidden=16, embed=16, char_features=8, max_steps=3)
    rnncli.train("translate", train_src=DATA / "translate/train.en", train_tgt=DATA / "translate/train.de",
                 valid_src=DATA / "translate/valid.en", valid_tgt=DATA / "translate/valid.de",
                 out=root / "mt", hidden=16, embed=16, vocab_size=300, max_steps=3)
    rnncli.train("lm", train=DATA / "lm/valid.txt", out=root / "lm", hidden=16, embed=16, layers=1, batch_size=8,
                 seq_len=32, max_steps=2)
    return {"cls": root / "cls", "tag": root / "tag", "mt": root / "mt", "lm": root / "lm"}


def repeated(source: Path, lines: int, target: Path) -> Path:
    text = source.read_text().splitlines()
    target.write_text("\n".join((text * (lines // len(text) + 1))[:lines]) + "\n")
    return target


def one_line_exit_2(result, *needles: str) -> None:
    assert result.code == 2, (result.code, result.err)
    assert result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    for needle in needles:
        assert needle in result.err, result.err


def stop_at_call(monkeypatch, cls, calls: int, error: type[BaseException] = KeyboardInterrupt) -> None:
    """Make `cls.render` raise `error` on its `calls`-th call: a stop part way through."""
    original, seen = cls.render, []

    def render(self, items):
        seen.append(1)
        if len(seen) == calls:
            raise error("stopped by the test")
        return original(self, items)

    monkeypatch.setattr(cls, "render", render)


def record_of(out: Path) -> dict:
    return json.loads(out.with_name(out.name + ".partial.json").read_text())


def recorded_lines(out: Path) -> int:
    """Lines the progress record says are done (0 while there is none, or mid-write: the
    partial file grows before its record, and --continue trusts only the record)."""
    try:
        return int(record_of(out)["lines"])
    except (OSError, ValueError, KeyError):
        return 0


def partial_of(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


# ---- a real SIGTERM, then --continue --------------------------------------------------------
def test_continue_after_a_real_sigterm_gives_the_uninterrupted_file(cli, models, tmp_path):
    big = repeated(DATA / "classify/unlabelled.txt", 50_000, tmp_path / "big.txt")
    args = ["classify", models["cls"], big, "--batch-size", "64"]
    whole = cli(*args)
    assert whole.code == 0, whole.err
    out = tmp_path / "labels.txt"
    proc = subprocess.Popen([sys.executable, "-m", "rnncli", *map(str, args), "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 60
    while not recorded_lines(out) and time.monotonic() < deadline:   # some lines done and recorded
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert not out.exists()                           # the final file appears only when complete
    record, kept = record_of(out), partial_of(out).read_text()
    assert 0 < record["lines"] < 50_000 and record["items"] == record["lines"]
    assert kept.encode()[:record["bytes"]].decode() == whole.out[:record["bytes"]]   # finished lines, in order
    resumed = cli(*args, "-o", out, "--continue")
    assert resumed.code == 0, resumed.err
    assert out.read_bytes() == whole.out.encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt", "labels.txt"]


# ---- --continue refuses what would not give the uninterrupted file ---------------------------
def test_continue_refuses_a_different_input_other_settings_and_a_fresh_start(cli, models, tmp_path, monkeypatch):
    from rnncli.cli.classify import ClassifyWork

    source = repeated(DATA / "classify/unlabelled.txt", 600, tmp_path / "in.txt")
    args = ["classify", models["cls"], source, "--batch-size", "16"]     # chunks of 256 lines
    whole = cli(*args).out
    out = tmp_path / "out.txt"
    stop_at_call(monkeypatch, ClassifyWork, 2)
    assert cli(*args, "-o", out).code == 130
    monkeypatch.undo()
    record, kept = record_of(out), partial_of(out).read_bytes()
    assert record["lines"] == record["items"] == 256 and kept.decode() == whole[:len(kept)]

    one_line_exit_2(cli(*args, "-o", out), "unfinished run", "--continue")
    one_line_exit_2(cli(*args, "-o", out, "--continue", "--top-k", "2"), "other settings", "top_k")
    lines = source.read_text().splitlines()
    changed = tmp_path / "changed.txt"
    changed.write_text("\n".join(["a different first line", *lines[1:]]) + "\n")
    one_line_exit_2(cli("classify", models["cls"], changed, "--batch-size", "16", "-o", out, "--continue"),
                    "differ from the input")
    short = tmp_path / "short.txt"
    short.write_text("\n".join(lines[:100]) + "\n")
    one_line_exit_2(cli("classify", models["cls"], short, "--batch-size", "16", "-o", out, "--continue"),
                    "256 input lines", "has only 100")
    one_line_exit_2(cli("classify", models["cls"], "-", "-o", out, "--continue"), "needs an input file")
    one_line_exit_2(cli(*args, "--continue"), "needs -o OUT or --output-dir")
    assert partial_of(out).read_bytes() == kept and record_of(out) == record   # refusals touch nothing

    # A line appended beyond the prefix is fine: only the part already done must agree.
    assert cli(*args, "-o", out, "--continue").code == 0
    assert out.read_text() == whole and not partial_of(out).exists()
    done = cli(*args, "-o", out, "--continue")
    assert done.code == 0 and "complete" in done.err and out.read_text() == whole


def test_tsv_input_keeps_its_header_across_a_continue(cli, models, tmp_path, monkeypatch):
    from rnncli.cli.classify import ClassifyWork

    rows = (DATA / "classify/valid.tsv").read_text().splitlines()
    source = tmp_path / "in.tsv"
    source.write_text("\n".join([rows[0], *(rows[1:] * 8)]) + "\n")
    args = ["classify", models["cls"], source, "--input-format", "tsv", "--batch-size", "8"]
    whole = cli(*args).out
    out = tmp_path / "out.tsv"
    stop_at_call(monkeypatch, ClassifyWork, 2)
    assert cli(*args, "-o", out).code == 130
    monkeypatch.undo()
    assert cli(*args, "-o", out, "--continue").code == 0
    assert out.read_text() == whole and "predicted" in whole.splitlines()[0]


# ---- output that is not one line per input line: counted in input units ---------------------
def test_translate_nbest_jsonl_continues_byte_identically(cli, models, tmp_path, monkeypatch):
    import rnncli.cli.translate as translate

    monkeypatch.setattr(translate, "FILE_CHUNK", 8)
    source = repeated(DATA / "translate/valid.en", 40, tmp_path / "in.en")
    args = ["translate", models["mt"], source, "--beam", "2", "--n-best", "2", "--output-format", "jsonl",
            "--batch-size", "4"]
    whole = cli(*args).out
    out = tmp_path / "out.jsonl"
    stop_at_call(monkeypatch, translate.TranslateWork, 3)
    assert cli(*args, "-o", out).code == 130
    assert record_of(out)["items"] == 16
    stop_at_call(monkeypatch, translate.TranslateWork, 2)    # a second stop, then the rest
    assert cli(*args, "-o", out, "--continue").code == 130
    assert record_of(out)["items"] == 24
    monkeypatch.undo()
    monkeypatch.setattr(translate, "FILE_CHUNK", 8)
    assert cli(*args, "-o", out, "--continue").code == 0
    assert out.read_text() == whole and len(whole.splitlines()) == 40


def test_conll_output_with_blank_lines_survives_a_crash_and_continues(cli, models, tmp_path, monkeypatch):
    from rnncli.cli.tag import TagWork

    block = "-DOCSTART- -X- O\n\nAnna NNP\nHolm NNP\n\n\nBram NNP\nran VBD\n\n"
    source = tmp_path / "in.conll"
    source.write_text(block * 12)
    args = ["tag", models["tag"], source, "--input-format", "conll", "--batch-size", "3"]
    whole = cli(*args).out
    out = tmp_path / "out.conll"
    stop_at_call(monkeypatch, TagWork, 5, RuntimeError)       # a crash, not a signal
    crashed = cli(*args, "-o", out)
    assert crashed.code == 1 and "internal error" in crashed.err
    monkeypatch.undo()
    record = record_of(out)
    assert record["items"] == 12 and record["lines"] > record["items"]   # sentences span lines
    assert partial_of(out).read_text() == "".join(whole.splitlines(keepends=True)[:record["lines"]])
    assert cli(*args, "-o", out, "--continue").code == 0
    assert out.read_text() == whole


def test_a_run_stopped_before_its_first_chunk_leaves_nothing(cli, models, tmp_path, monkeypatch):
    from rnncli.cli.classify import ClassifyWork

    out = tmp_path / "out.txt"
    stop_at_call(monkeypatch, ClassifyWork, 1)
    assert cli("classify", models["cls"], DATA / "classify/unlabelled.txt", "-o", out).code == 130
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine\n\xff\n")
    one_line_exit_2(cli("classify", models["cls"], bad, "-o", out), "bad.txt:2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt"]


# ---- many files in one process ------------------------------------------------------------
def test_output_dir_keeps_names_and_order_and_equals_per_file_runs(cli, models, tmp_path):
    names = ["zeta.txt", "alpha.txt", "mid.en"]
    inputs = []
    for index, name in enumerate(names):
        folder = tmp_path / f"in{index}"
        folder.mkdir()
        inputs.append(repeated(DATA / "translate/test.en", 10 + 7 * index, folder / name))
    result = cli("translate", models["mt"], *inputs, "--output-dir", tmp_path / "out", "--batch-size", "4")
    assert result.code == 0, result.err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(names)
    for path in inputs:
        alone = cli("translate", models["mt"], path, "--batch-size", "4")
        assert (tmp_path / "out" / path.name).read_text() == alone.out
    (tmp_path / "out" / "alpha.txt").unlink()
    again = cli("translate", models["mt"], *inputs, "--output-dir", tmp_path / "out", "--batch-size", "4",
                "--continue")
    assert again.code == 0 and again.err.count("complete; nothing to continue") == 2
    assert (tmp_path / "out" / "alpha.txt").read_text() == cli("translate", models["mt"], inputs[1],
                                                               "--batch-size", "4").out


def test_output_dir_refuses_clashes_and_impossible_asks(cli, models, tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.txt").write_text("good film\n")
    a, b = tmp_path / "a/same.txt", tmp_path / "b/same.txt"
    for command, model in (("classify", "cls"), ("tag", "tag"), ("translate", "mt")):
        one_line_exit_2(cli(command, models[model], a, b, "--output-dir", tmp_path / "out"), "same name")
    one_line_exit_2(cli("classify", models["cls"], a, b), "need --output-dir")
    one_line_exit_2(cli("classify", models["cls"], a, "-", "--output-dir", tmp_path / "out"), "standard input")
    one_line_exit_2(cli("classify", models["cls"], a, "--output-dir", tmp_path / "a"), "replace the input")
    one_line_exit_2(cli("classify", models["cls"], a, "-o", tmp_path / "x", "--output-dir", tmp_path / "o"),
                    "not both")
    assert not (tmp_path / "out").exists()


# ---- progress bars only where someone watches ------------------------------------------------
def test_progress_shows_only_when_forced_or_on_a_terminal(cli, models, tmp_path, monkeypatch):
    source = repeated(DATA / "classify/unlabelled.txt", 300, tmp_path / "in.txt")
    quiet = cli("classify", models["cls"], source, "-o", tmp_path / "a.txt")
    assert quiet.code == 0 and quiet.err == ""                    # tests and pipes: no bar
    monkeypatch.setenv("RNNCLI_PROGRESS", "1")
    shown = cli("classify", models["cls"], source, "-o", tmp_path / "b.txt")
    assert shown.code == 0 and "300/300 lines" in shown.err and "lines/s" in shown.err
    assert cli("classify", models["cls"], source, "-o", tmp_path / "c.txt", "--quiet").err == ""
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text()


def test_generate_from_stdin_counts_its_prompts(cli, models, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the\na\nit\n")))
    monkeypatch.setenv("RNNCLI_PROGRESS", "1")
    result = cli("generate", models["lm"], "--prompt", "-", "--max-tokens", "3", "--seed", "1")
    assert result.code == 0, result.err
    assert len(result.out.splitlines()) == 3 and "3 lines" in result.err and "lines/s" in result.err


def on_a_terminal(*args: str, stdout_too: bool) -> str:
    """What a real terminal on stderr (and stdout, with `stdout_too`) shows of a run."""
    import os
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "rnncli", *map(str, args)], stdout=slave if stdout_too else
                            subprocess.DEVNULL, stderr=slave, cwd=ROOT, env={**os.environ, "RNNCLI_PROGRESS": ""})
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:        # the terminal's other end closed: the run is over
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode(errors="replace")


def test_a_terminal_on_stderr_gets_the_bar_unless_results_scroll_on_it(models, tmp_path):
    source = repeated(DATA / "classify/unlabelled.txt", 300, tmp_path / "in.txt")
    shown = on_a_terminal("classify", models["cls"], source, "-o", tmp_path / "out.txt", stdout_too=True)
    assert "300/300 lines" in shown and "lines/s" in shown
    scrolling = on_a_terminal("classify", models["cls"], source, stdout_too=True)
    assert "lines/s" not in scrolling and scrolling.count("\r\n") == 300   # the results alone


def test_inference_start_up_imports_no_scoring_or_plotting_library(models, tmp_path):
    line = tmp_path / "one.txt"
    line.write_text("a fine film\n")
    probe = ("import sys; from rnncli.cli.app import run; code = run(sys.argv[1:], False); "
             "heavy = [m for m in ('sacrebleu', 'seqeval', 'statsmodels', 'matplotlib', 'scipy', 'pandas') "
             "if m in sys.modules]; print(heavy, code, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", probe, "classify", str(models["cls"]), str(line)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.stderr.strip().endswith("[] 0"), proc.stderr


def test_a_record_left_after_the_final_rename_does_not_block_the_next_run(cli, models, tmp_path):
    out = tmp_path / "out.txt"
    args = ["classify", models["cls"], DATA / "classify/unlabelled.txt", "-o", out]
    assert cli(*args).code == 0
    out.with_name("out.txt.partial.json").write_text("{}")     # a stop between rename and clean-up
    assert cli(*args, "--continue").code == 0 and out.is_file()
    assert cli(*args).code == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
