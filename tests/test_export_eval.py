"""`rnncli eval` on export artifacts: the same figures as on the checkpoint for translate
(BLEU/chrF/TER from the artifact's beam search) and lm (perplexity from the artifact's
log-probabilities), through the real CLI, for TorchScript and ONNX; and the clear exit-2
refusals (options an artifact cannot honour, a task export does not write).

The checkpoints and artifacts are test_export.py's fixtures (tiny models, 4 steps)."""

import json

import pytest

from conftest import DATA
from test_export import CHECK_LINES, artifacts, checkpoints  # noqa: F401  (module fixtures)

FORMATS = ("torchscript", "onnx")


@pytest.fixture(scope="module")
def translate_data(tmp_path_factory):
    """The validation pairs the export's parity check compared (its first CHECK_LINES
    sources): an untrained model's near-ties elsewhere may break differently in ONNX."""
    root = tmp_path_factory.mktemp("export-eval")
    count = int(CHECK_LINES["translate"])
    paths = []
    for side in ("en", "de"):
        lines = (DATA / "translate" / f"valid.{side}").read_text(encoding="utf-8").splitlines()[:count]
        path = root / f"valid.{side}"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def report(cli, target, *args):
    result = cli("eval", target, *args, "--json", "--quiet")
    assert result.code == 0, result.err
    return json.loads(result.out)


@pytest.mark.parametrize("fmt", FORMATS)
def test_translate_eval_on_artifact_equals_checkpoint(cli, artifacts, checkpoints, translate_data, fmt):
    on_checkpoint = report(cli, checkpoints["translate"], *translate_data)
    on_artifact = report(cli, artifacts["translate", fmt], *translate_data)
    assert {"bleu", "chrf", "ter"} <= set(on_checkpoint)
    assert on_artifact == on_checkpoint            # every figure, signatures and intervals included
    beam3 = ("--beam", "3", "--length-penalty", "1.0")
    assert report(cli, artifacts["translate", fmt], *translate_data, *beam3) == \
        report(cli, checkpoints["translate"], *translate_data, *beam3)


def test_translate_artifact_splits_long_lines_as_rnncli_does(artifacts, checkpoints, translate_data):
    """Lines over the input limit are translated in pieces and joined, as Translator does."""
    import rnncli
    from rnncli.config import DecodeSettings
    from rnncli.export import load_runner
    from rnncli.export.evaluate import exported_translator

    lines = translate_data[0].read_text(encoding="utf-8").splitlines()[:4] + [""]
    settings = DecodeSettings(max_input_tokens=3)
    eager = rnncli.load(checkpoints["translate"], device="cpu")
    want = eager.hypotheses(lines, settings)
    directory = artifacts["translate", "torchscript"]
    exported = exported_translator(directory, load_runner(directory))
    got = exported.hypotheses(lines, settings)
    assert [[h.tokens for h in hyps] for hyps in got] == [[h.tokens for h in hyps] for hyps in want]
    assert got[-1] == [] and exported.split_lines == eager.split_lines > 0
    assert [h[0].score for h in got[:-1]] == pytest.approx([h[0].score for h in want[:-1]], abs=1e-4)


@pytest.mark.parametrize("fmt", FORMATS)
def test_lm_eval_on_artifact_equals_checkpoint(cli, artifacts, checkpoints, fmt):
    data = DATA / "lm" / "valid.txt"
    on_checkpoint = report(cli, checkpoints["lm"], data)
    on_artifact = report(cli, artifacts["lm", fmt], data)
    assert set(on_artifact) == set(on_checkpoint)
    for key in ("tokens", "chars", "unknown_tokens"):
        assert on_artifact[key] == on_checkpoint[key]
    for key in ("perplexity", "nats_per_token", "nats_per_char", "bits_per_char"):
        assert on_artifact[key] == pytest.approx(on_checkpoint[key], rel=1e-4)


def one_line_exit_2(result, *words):
    assert result.code == 2 and result.err.count("\n") == 1 and "Traceback" not in result.err, result.err
    assert all(w in result.err for w in words), result.err


def test_options_an_artifact_cannot_honour_exit_2(cli, artifacts, translate_data):
    out = artifacts["translate", "onnx"]
    one_line_exit_2(cli("eval", out, *translate_data, "--int8"), "--int8", "fp32")
    one_line_exit_2(cli("eval", out, *translate_data, "--shortlist"), "--shortlist")
    one_line_exit_2(cli("eval", out, *translate_data, "--device", "cuda"), "CPU")
    one_line_exit_2(cli("eval", artifacts["lm", "torchscript"], DATA / "lm" / "valid.txt", DATA / "lm" / "valid.txt"),
                    "one text file")


def test_eval_of_a_task_export_does_not_write_exits_2(cli, artifacts, tmp_path):
    """A manifest claiming a task export does not write is refused, with why."""
    import shutil

    fake = tmp_path / "summarize-artifact"
    shutil.copytree(artifacts["classify", "torchscript"], fake)
    manifest = json.loads((fake / "manifest.json").read_text())
    (fake / "manifest.json").write_text(json.dumps({**manifest, "task": "summarize"}))
    one_line_exit_2(cli("eval", fake, DATA / "classify" / "valid.tsv"), "summarize", "not supported")
