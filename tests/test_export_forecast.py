"""`rnncli export` of a forecaster (rnncli/export/forecast.py): exact parity in both formats,
the standalone runner without rnncli (timestamps, quantiles and widened intervals equal to
`rnncli forecast`), `eval` and `info` on the artifact, and a failed check leaving nothing."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

from conftest import DATA

MONTHLY = DATA / "forecast" / "monthly.csv"
TINY = ["--hidden", "8", "--epochs", "1", "--steps-per-epoch", "8", "--batch-size", "16", "--quiet"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    from rnncli.cli.app import run

    out = tmp_path_factory.mktemp("fcx") / "monthly"
    assert run(["train", "forecast", "--train", str(MONTHLY), "--out", str(out), "--horizon", "6", *TINY], False) == 0
    return out


@pytest.fixture(scope="module")
def artifacts(checkpoint):
    from rnncli.cli.app import run

    made = {}
    for fmt in ("torchscript", "onnx"):
        made[fmt] = checkpoint.parent / f"exported-{fmt}"
        assert run(["export", str(checkpoint), "--format", fmt, "-o", str(made[fmt]), "--quiet"], False) == 0
    return made


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_parity_and_manifest(artifacts, fmt):
    out = artifacts[fmt]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["task"] == "forecast" and manifest["format"] == fmt
    parity = manifest["parity"]
    assert parity["match_rate"] == 1.0 and parity["total"] == 2 * 6 * 3   # 2 series, 6 steps, 3 quantiles
    assert parity["max_diff"] <= (0.0 if fmt == "torchscript" else 1e-5)
    series = manifest["series"]
    assert (series["horizon"], series["intervals"], series["quantiles"]) == (6, "history", [0.1, 0.5, 0.9])
    assert set(series["ids"]) == {"visitors", "sales"}
    for name in ("runner.py", "rnncli_timestamps.py", "rnncli_seasons.py", "checkpoint_config.json"):
        assert (out / name).is_file()
    assert "rnncli." not in (out / "rnncli_seasons.py").read_text().split('"""', 2)[2]


RUNNER = r"""
import csv, json, sys
sys.modules["rnncli"] = None          # any import of rnncli fails
sys.path.insert(0, sys.argv[1])
import runner
model = runner.load(sys.argv[1])
with open(sys.argv[2], newline="") as f:
    rows = list(csv.DictReader(f))
out = {}
for name in ("visitors", "sales"):
    kept = [r for r in rows if r[name].strip()]
    # the one gap in visitors is filled as rnncli fills it, by linear interpolation
    stamps = [r["month"] for r in rows]
    raw = [float(r[name]) if r[name].strip() else None for r in rows]
    values = [v if v is not None else (raw[i - 1] + raw[i + 1]) / 2 for i, v in enumerate(raw)]
    out[name] = model.forecast(stamps, values, series=name)
print(json.dumps(out))
"""


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_runner_without_rnncli_equals_rnncli_forecast(cli, artifacts, checkpoint, tmp_path, fmt):
    header = MONTHLY.read_text().splitlines()[0]
    assert header.split(",")[0] == "month"
    proc = subprocess.run([sys.executable, "-I", "-c", RUNNER, str(artifacts[fmt]), str(MONTHLY)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    table = list(csv.DictReader(io.StringIO(cli("forecast", checkpoint, MONTHLY).out)))
    for name, forecast in got.items():
        mine = [r for r in table if r["series"] == name]
        assert forecast["timestamps"] == [r["timestamp"] for r in mine]
        for q in ("0.1", "0.5", "0.9"):
            assert forecast["quantiles"][q] == pytest.approx([float(r[f"q{q}"]) for r in mine], rel=1e-5)
        assert forecast["point"] == pytest.approx([float(r["forecast"]) for r in mine], rel=1e-5)


def test_eval_and_info_on_the_artifact(cli, artifacts, checkpoint):
    on_checkpoint = json.loads(cli("eval", checkpoint, MONTHLY, "--folds", "2", "--horizon", "3", "--json").out)
    for fmt, artifact in artifacts.items():
        result = cli("eval", artifact, MONTHLY, "--folds", "2", "--horizon", "3", "--json")
        assert result.code == 0, result.err
        on_artifact = json.loads(result.out)
        for key in ("mase", "smape", "coverage_80", "quantile_loss"):
            assert on_artifact[key] == pytest.approx(on_checkpoint[key], rel=1e-5), (fmt, key)
        assert on_artifact["baselines"] == on_checkpoint["baselines"]
    info = json.loads(cli("info", artifacts["onnx"], "--json").out)
    assert info["artifact"] and info["task"] == "forecast" and info["series"]["horizon"] == 6


def test_failed_parity_exits_1_and_leaves_nothing(cli, checkpoint, tmp_path, monkeypatch):
    import rnncli.export.forecast as fx

    def shifted(predictor, runner, series_set, **_):
        figures = real(predictor, runner, series_set)
        return {**figures, "matched": figures["total"] - 1, "match_rate": 1 - 1 / figures["total"]}

    real = fx.check_forecast
    monkeypatch.setattr(fx, "check_forecast", shifted)
    out = tmp_path / "bad"
    result = cli("export", checkpoint, "--format", "torchscript", "-o", out)
    assert result.code == 1 and "parity failed" in result.err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
