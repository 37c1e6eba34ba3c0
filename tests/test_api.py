"""The Python API (rnncli.load, rnncli.train, rnncli.evaluate) and the settings it shares
with the command line: the README's examples run, values are checked the same way, and a
--config file is validated against the same types."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

import rnncli
from conftest import DATA, ROOT, TINY_LM
from rnncli.errors import ConfigError, UsageError


def readme_api_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### The Python API", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.fixture
def project_dir(tmp_path, monkeypatch):
    """A working directory like the project root: data/ there, runs/ empty."""
    (tmp_path / "data").symlink_to(DATA)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_has_an_example_per_task():
    blocks = readme_api_blocks()
    assert [re.search(r'rnncli\.train\("(\w+)"', b).group(1) for b in blocks] == ["lm", "classify", "tag", "translate",
                                                                                       "forecast"]


@pytest.mark.parametrize("index", range(5))
def test_readme_examples_run(project_dir, index):
    block = readme_api_blocks()[index]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(block, f"README.md block {index + 1}", "exec"), {})
    assert printed.getvalue().strip(), "the example prints its results"
    assert list((project_dir / "runs").iterdir())


def test_predictors_return_plain_values(project_dir):
    rnncli.train("classify", train=DATA / "classify/train.tsv", valid=str(DATA / "classify/valid.tsv"),
                 out=Path("runs/c"), hidden=16, embed=16, vocab_size=200, max_steps=5)
    classifier = rnncli.load(Path("runs/c"))
    assert rnncli.load("runs/c").labels == classifier.labels
    [single] = classifier.classify("what a cheap hotel", top_k=3)
    assert single.label in classifier.labels and 0 < single.probability <= 1
    assert [label for label, _ in single.top_k][0] == single.label
    assert sum(p for _, p in single.top_k) == pytest.approx(1.0, abs=1e-5)   # 3 labels: all of them
    assert classifier.classify([]) == []


def test_tagger_spans_point_into_the_line(project_dir):
    rnncli.train("tag", train=DATA / "tag/train.iob2.conll", valid=DATA / "tag/valid.iob2.conll",
                 out="runs/t", hidden=16, embed=16, char_features=8, max_steps=40)
    tagger = rnncli.load("runs/t")
    line = "  Anna   Holm visited Valmora ."
    [sentence] = tagger.tag(line)
    assert sentence.tokens == line.split() and len(sentence.tags) == len(sentence.tokens)
    for span in sentence.spans:
        assert line[span.char_start:span.char_end] == span.text == " ".join(sentence.tokens[span.start:span.end]) \
            or line[span.char_start:span.char_end] == span.text
    assert tagger.tag([["Anna", "Holm"]], scheme="bioes")[0].tokens == ["Anna", "Holm"]
    with pytest.raises(UsageError):
        tagger.tag("x", scheme="none")


def test_train_checks_values_like_the_command_line(project_dir):
    files = dict(train=DATA / "classify/train.tsv", valid=DATA / "classify/valid.tsv", out="runs/x")
    with pytest.raises(ConfigError, match=r"--hidden 'x' is not an integer"):
        rnncli.train("classify", hidden="x", **files)
    with pytest.raises(ConfigError, match=r"--epochs 1.5 is not an integer"):
        rnncli.train("classify", epochs=1.5, **files)
    with pytest.raises(ConfigError, match=r"unknown option 'hiden' \(did you mean 'hidden'\?\)"):
        rnncli.train("classify", hiden=3, **files)
    with pytest.raises(UsageError, match="missing option --valid"):
        rnncli.train("classify", train=files["train"], out="runs/x")
    with pytest.raises(UsageError, match="unknown task"):
        rnncli.train("parse", **files)
    assert not (project_dir / "runs" / "x").exists()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("toml, message", [
    ("epochs = 1.5\n", "epochs = 1.5 is not an integer"),
    ("warmup = 2.0\n", "warmup = 2.0 is not an integer"),
    ("hidden = \"big\"\n", "hidden = 'big' is not an integer"),
    ("lr = \"fast\"\n", "lr = 'fast' is not a number"),
    ("bidirectional = 1\n", "bidirectional = 1 is not true or false"),
    ("cell = \"tree\"\n", "cell = 'tree' is not one of: lstm"),
    ("dropout = 1.5\n", "dropout = 1.5 must be in [0, 1)"),
    ("hiden = 3\n", "unknown option 'hiden' (did you mean 'hidden'?)"),
    ("[model]\nlayer-norm = \"yes\"\n", "layer_norm = 'yes' is not true or false"),
    ("quiet = \"no\"\n", "quiet = 'no' is not true or false"),
    ("epochs = \n", "not a valid TOML file"),
])
def test_a_bad_config_file_is_exit_2_naming_the_key(cli, tmp_path, toml, message):
    config = write(tmp_path / "run.toml", toml)
    result = cli("train", "lm", "--train", DATA / "lm/valid.txt", "--out", tmp_path / "out", "--config", config)
    assert result.code == 2, result.err
    assert message in result.err and str(config) in result.err and result.err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_every_option_may_stand_in_the_file_and_the_command_line_wins(cli, tmp_path):
    out = tmp_path / "from-file"
    config = write(tmp_path / "run.toml", f'train = "{DATA / "lm/valid.txt"}"\nout = "{out}"\nquiet = true\n'
                                          'json = true\nmax-steps = 3\nhidden = 24\nembed = 8\n[model]\nseq-len = 16\n')
    result = cli("train", "lm", "--config", config, "--hidden", "16")
    assert result.code == 0, result.err
    assert result.err == ""                                   # quiet came from the file
    assert json.loads(result.out)["steps"] == 3               # so did json and max-steps
    saved = json.loads((out / "config.json").read_text())
    assert saved["model"]["hidden"] == 16 and saved["model"]["embed"] == 8   # the command line wins
    assert saved["options"]["seq_len"] == 16


def test_config_on_resume_applies_what_may_change_and_refuses_the_rest(cli, tmp_path):
    train = DATA / "lm/valid.txt"
    out = tmp_path / "run"
    assert cli("train", "lm", "--train", train, "--out", out, "--max-steps", "2", *TINY_LM).code == 0
    more = write(tmp_path / "more.toml", "max-steps = 4\n")
    assert cli("train", "lm", "--train", train, "--out", out, "--resume", "--config", more, *TINY_LM).code == 0
    assert json.loads((out / "config.json").read_text())["progress"]["steps"] == 4
    bigger = write(tmp_path / "bigger.toml", "max-steps = 6\ndropout = 0.3\n")
    refused = cli("train", "lm", "--train", train, "--out", out, "--resume", "--config", bigger, *TINY_LM)
    assert refused.code == 2 and "--dropout: cannot change on --resume" in refused.err


def test_help_shows_every_default(cli):
    def help_of(*command: str) -> str:
        result = cli(*command, "--help")
        assert result.code == 0
        return " ".join(result.out.split())     # undo rich's wrapping

    assert re.search(r"--hidden <int> [^\[]*\[default: \(512\)\]", help_of("train", "lm"))   # the LM's own
    tag = help_of("train", "tag")
    assert re.search(r"--epochs <int> [^\[]*\[default: \(50\)\]", tag)
    assert "--tokenizer" not in tag            # a tagger has its own word vocabulary: no such option
    translate = help_of("translate")
    assert re.search(r"--beam <int> [^\[]*\[default: 5\]", translate)
    assert re.search(r"--length-penalty <float> [^\[]*\[default: 0\.6\]", translate)
