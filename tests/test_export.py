"""`rnncli export`: round trips with exact parity for every task and both formats, the
standalone runners in a process that cannot import rnncli, `info`/`eval` on artifacts,
and the error paths (bad checkpoint, missing ONNX packages, a failed parity check)."""

import json
import subprocess
import sys

import pytest

from conftest import DATA, ROOT

TINY = ["--max-steps", "4", "--eval-every", "4", "--seed", "1", "--quiet"]
TRAIN = {
    "classify": ["train", "classify", "--train", DATA / "classify" / "train.tsv", "--valid",
                 DATA / "classify" / "valid.tsv", "--hidden", "8", "--embed", "8"],
    "tag": ["train", "tag", "--train", DATA / "tag" / "train.iob2.conll", "--valid", DATA / "tag" / "valid.iob2.conll",
            "--hidden", "8", "--embed", "8", "--char-features", "6"],
    "translate": ["train", "translate", "--train-src", DATA / "translate" / "train.en", "--train-tgt",
                  DATA / "translate" / "train.de", "--valid-src", DATA / "translate" / "valid.en", "--valid-tgt",
                  DATA / "translate" / "valid.de", "--vocab-size", "120", "--hidden", "16", "--embed", "8",
                  "--batch-size", "32"],
    "lm": ["train", "lm", "--train", DATA / "lm" / "train.txt", "--valid", DATA / "lm" / "valid.txt",
           "--hidden", "16", "--embed", "8", "--batch-size", "8", "--seq-len", "16"],
}
CHECK_LINES = {"classify": "60", "tag": "40", "translate": "12", "lm": "4"}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    from rnncli.cli.app import run

    root = tmp_path_factory.mktemp("export")
    made = {}
    for task, args in TRAIN.items():
        out = root / task
        assert run([str(a) for a in [*args, "--out", out, *TINY]], False) == 0
        made[task] = out
    return made


@pytest.fixture(scope="module")
def artifacts(checkpoints):
    from rnncli.cli.app import run

    made = {}
    for task, checkpoint in checkpoints.items():
        for fmt in ("torchscript", "onnx"):
            out = checkpoint.parent / f"{task}-{fmt}"
            assert run(["export", str(checkpoint), "--format", fmt, "-o", str(out), "--check-lines",
                        CHECK_LINES[task], "--quiet"], False) == 0
            made[task, fmt] = out
    return made


@pytest.mark.parametrize("task", ["classify", "tag", "translate", "lm"])
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_round_trip_has_exact_parity(artifacts, checkpoints, task, fmt):
    out = artifacts[task, fmt]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"] == task and manifest["format"] == fmt
    assert manifest["parity"]["match_rate"] == 1.0 and manifest["parity"]["total"] > 0
    assert manifest["parity"]["max_diff"] < 1e-3
    assert len(manifest["checkpoint"]["sha256"]["model.safetensors"]) == 64
    assert (out / "runner.py").is_file() and (out / "rnncli_runner_text.py").is_file() and (out / "tokenizer").is_dir()
    model_files = [manifest["files"]["module"]] if fmt == "torchscript" else list(manifest["files"]["graphs"].values())
    assert all((out / f).is_file() for f in model_files)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]   # no temporary directory left


RUNNER_SCRIPT = r"""
import json, sys
sys.modules["rnncli"] = None          # any import of rnncli fails
sys.path.insert(0, sys.argv[1])
import runner
model = runner.load(sys.argv[1])
task, lines = model.manifest["task"], json.loads(sys.argv[2])
if task == "classify":
    out = [label for label, _ in model.classify(lines)]
elif task == "tag":
    out = model.tag(lines)
elif task == "translate":
    out = model.translate(lines)
else:
    out = [model.sample_ids(line, max_tokens=8, temperature=0.0) for line in lines]
print(json.dumps(out))
"""


@pytest.mark.parametrize("task,fmt", [("classify", "torchscript"), ("tag", "onnx"), ("translate", "onnx"),
                                      ("translate", "torchscript"), ("lm", "onnx")])
def test_runner_works_without_rnncli(artifacts, checkpoints, tmp_path, task, fmt):
    import rnncli

    lines = (DATA / "tag" / "sentences.txt").read_text(encoding="utf-8").splitlines()[:4]
    proc = subprocess.run([sys.executable, "-I", "-c", RUNNER_SCRIPT, str(artifacts[task, fmt]), json.dumps(lines)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    loaded = rnncli.load(checkpoints[task], device="cpu")
    if task == "classify":
        assert got == [p.label for p in loaded.classify(lines)]
    elif task == "tag":
        assert got == [s.tags for s in loaded.tag(lines)]
    elif task == "translate":
        assert got == [t.text for t in loaded.translate(lines)]
    else:   # greedy: the same ids as rnncli's own sampling at temperature 0
        from rnncli.config import GenerateSettings

        greedy = GenerateSettings(max_tokens=8, temperature=0.0)
        assert got == [[int(x[0]) for x in loaded.sampling([loaded.prompt_ids(line)], greedy, loaded.rng(0)[0])]
                       for line in lines]


@pytest.mark.parametrize("task,data", [("classify", DATA / "classify" / "valid.tsv"),
                                       ("tag", DATA / "tag" / "valid.iob2.conll")])
def test_eval_on_artifact_equals_checkpoint(cli, artifacts, checkpoints, task, data):
    on_checkpoint = json.loads(cli("eval", checkpoints[task], data, "--json", "--quiet").out)
    for fmt in ("torchscript", "onnx"):
        result = cli("eval", artifacts[task, fmt], data, "--json", "--quiet")
        assert result.code == 0, result.err
        on_artifact = json.loads(result.out)
        shared = [k for k in on_artifact if k in on_checkpoint and k not in ("calibration", "data", "ece")]
        assert shared and {k: on_artifact[k] for k in shared} == {k: on_checkpoint[k] for k in shared}
        if "ece" in on_artifact:   # from probabilities, equal to float rounding
            assert on_artifact["ece"] == pytest.approx(on_checkpoint["ece"], abs=1e-6)


def test_info_describes_an_artifact(cli, artifacts):
    result = cli("info", artifacts["translate", "onnx"], "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["artifact"] and report["task"] == "translate" and report["format"] == "onnx"
    assert set(report["files"]["graphs"]) == {"encoder", "step"}
    assert "task: tag" in cli("info", artifacts["tag", "torchscript"]).out


def test_bad_checkpoint_and_options_exit_2(cli, tmp_path, checkpoints):
    missing = cli("export", tmp_path / "nope", "--format", "torchscript", "-o", tmp_path / "out")
    assert missing.code == 2 and missing.err.count("\n") == 1 and "Traceback" not in missing.err
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "config.json").write_text("{not json")
    assert cli("export", junk, "-o", tmp_path / "out").code == 2
    bad_format = cli("export", checkpoints["classify"], "--format", "tflite", "-o", tmp_path / "out")
    assert bad_format.code == 2 and "--format" in bad_format.err
    assert not (tmp_path / "out").exists()


def test_onnx_without_its_packages_names_the_extra(tmp_path, checkpoints):
    code = ("import sys; sys.modules['onnxruntime'] = None; from rnncli.cli.app import main; "
            f"main(['export', {str(checkpoints['classify'])!r}, '--format', 'onnx', '-o', {str(tmp_path / 'o')!r}])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "pip install 'rnncli[export]'" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_failed_parity_exits_1_and_leaves_nothing(cli, checkpoints, tmp_path, monkeypatch):
    from rnncli.export import parity

    real = parity.CHECKS["classify"]

    def disagreeing(*args, **kwargs):
        figures = real(*args, **kwargs)
        return {**figures, "matched": figures["total"] - 1, "match_rate": (figures["total"] - 1) / figures["total"]}

    monkeypatch.setitem(parity.CHECKS, "classify", disagreeing)
    result = cli("export", checkpoints["classify"], "-o", tmp_path / "out", "--check-lines", "20")
    assert result.code == 1 and "parity failed" in result.err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_translate_artifact_follows_both_beam_stops(artifacts, checkpoints, fmt):
    import rnncli
    from rnncli.config import DecodeSettings
    from rnncli.export import load_runner

    lines = (DATA / "translate" / "valid.en").read_text(encoding="utf-8").splitlines()[:8]
    predictor, runner = rnncli.load(checkpoints["translate"], device="cpu"), load_runner(artifacts["translate", fmt])
    for stop in ("best", "exact"):
        ours = predictor.hypotheses(lines, DecodeSettings(beam=4, n_best=2, beam_stop=stop))
        theirs = runner.hypotheses(lines, beam=4, n_best=2, beam_stop=stop)
        assert [[h.tokens for h in hyps] for hyps in ours] == [[t for t, _, _ in hyps] for hyps in theirs]
        assert [h.score for hyps in ours for h in hyps] == pytest.approx(
            [s for hyps in theirs for _, s, _ in hyps], abs=1e-4)
    with pytest.raises(ValueError, match="beam_stop"):
        runner.hypotheses(lines, beam_stop="soon")
