"""`rnncli export` of a forecaster: the network as one graph, everything around it (time
stamps, calendar and season features, interval widening) in the artifact's runner.

    OUT/
      manifest.json           task, format, inputs, series layout (frequency, horizon,
                              context, quantiles, series ids, covariates, intervals), parity
      model.pt | forecaster.onnx    window inputs -> quantiles (B, H, Q), calibrated
      runner.py               forecast_runner.py (numpy + torch or onnxruntime)
      rnncli_timestamps.py, rnncli_seasons.py   rnncli's own timestamp and calendar code
                              (standard library only), so the runner reads and writes
                              timestamps exactly as rnncli does
      checkpoint_config.json  the checkpoint's config.json

The network has no data-dependent control flow once the window length is fixed (the
context), so TorchScript is a trace and ONNX the same trace exported; both take the batch
keys of core/windows.py as separate inputs, in the order the manifest lists.

Parity: rnncli's `forecast` and the runner on the same series file; a value matches when
it agrees to float32 rounding (relative 1e-5 of the series' scale), timestamps exactly.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import time
import types
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnncli.errors import RnncliError

RUNNER = Path(__file__).with_name("forecast_runner.py")
ROOT = Path(__file__).resolve().parent.parent
VENDORED = {"rnncli_timestamps.py": ROOT / "timestamps.py", "rnncli_seasons.py": ROOT / "seasons.py"}
# rnncli.errors, for the vendored copy: the same messages, as ValueErrors
ERRORS_STUB = '''

class DataError(ValueError):
    @classmethod
    def at(cls, path, line, message):
        return cls(f"{path}:{line}: {message}" if line is not None else f"{path}: {message}")


class ConfigError(ValueError):
    pass
'''
RELATIVE_TOLERANCE = 1e-5
DEFAULT_SERIES = 200


class WindowModel(torch.nn.Module):
    """ForecastModel with the batch dict's tensors as positional inputs (`keys` order)."""

    def __init__(self, model, keys: list[str]):
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.model(dict(zip(self.keys, tensors)))


def window_batch_of(predictor, series_set, count: int | None = None) -> dict[str, torch.Tensor]:
    """The forecast windows of (the first `count`) series of a file, as rnncli builds them."""
    from rnncli.core.windows import window_batch

    tensors = predictor.forecast_tensors(dataclasses.replace(series_set, series=series_set.series[:count]))
    return window_batch(tensors, [(i, predictor.context) for i in range(len(tensors))], predictor.context,
                        predictor.horizon, with_future=False)


def vendor(source: Path) -> str:
    """A stdlib-only rnncli module rewritten to import its siblings in the artifact."""
    text = source.read_text(encoding="utf-8")
    text = text.replace("from rnncli.errors import ConfigError, DataError\n", ERRORS_STUB)
    text = re.sub(r"from rnncli\.timestamps import", "from rnncli_timestamps import", text)
    if "rnncli." in re.sub(r'"""[\s\S]*?"""|#.*', "", text):
        raise RnncliError(f"{source}: imports more of rnncli than the artifact can carry")
    return text


def write_forecaster(fmt: str, predictor, series_set, directory: Path) -> dict[str, Any]:
    """The graph, the runner and the vendored modules; returns the manifest's files part."""
    from rnncli.export.graphs import export_graph

    batch = window_batch_of(predictor, series_set, 2)
    keys = sorted(batch)
    module = WindowModel(predictor.model.eval(), keys).eval()
    args = tuple(batch[k] for k in keys)
    if fmt == "onnx":
        dynamic = {k: {0: "batch"} for k in keys + ["quantiles"]}
        export_graph(module, args, directory / "forecaster.onnx", keys, ["quantiles"], dynamic)
        files: dict[str, Any] = {"graphs": {"model": "forecaster.onnx"}}
    else:
        with warnings.catch_warnings():   # the trace fixes the window length, as intended
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.jit.trace(module, args, check_trace=False).save(str(directory / "model.pt"))
        files = {"module": "model.pt"}
    shutil.copyfile(RUNNER, directory / "runner.py")
    for name, source in VENDORED.items():
        (directory / name).write_text(vendor(source), encoding="utf-8")
    return {"files": files, "inputs": keys, "outputs": ["quantiles"]}


def series_manifest(predictor) -> dict[str, Any]:
    m = predictor.model.config
    return {"horizon": predictor.horizon, "context": predictor.context, "period": m.period,
            "freq": {"unit": predictor.freq.unit, "step": predictor.freq.step}, "freq_name": predictor.freq.name,
            "quantiles": list(m.quantiles), "median": m.median, "ids": predictor.ids,
            "covariates": list(predictor.features.covariates), "calendar": m.calendar, "seasons": m.seasons,
            "intervals": "history" if predictor.from_history else "model"}


def runner_items(series_set) -> list[tuple]:
    return [(list(s.timestamps), list(s.values), s.name, dict(s.covariates) or None) for s in series_set.series]


def check_forecast(predictor, runner, series_set, **_) -> dict[str, Any]:
    """rnncli's forecasts against the runner's on every series of the file."""
    from rnncli.export.parity import report

    start = time.perf_counter()
    eager = predictor.forecast(series_set)
    eager_s = time.perf_counter() - start
    start = time.perf_counter()
    exported = runner.forecast_many(runner_items(series_set))
    exported_s = time.perf_counter() - start
    matched = total = 0
    diff = 0.0
    for ours, theirs in zip(eager, exported):
        same_stamps = ours.timestamps == theirs["timestamps"]
        for q in predictor.quantiles:
            a, b = np.asarray(ours.quantiles[q]), np.asarray(theirs["quantiles"][q])
            size = max(1.0, float(np.abs(a).max()))
            close = np.abs(a - b) <= RELATIVE_TOLERANCE * size
            matched += int(close.sum()) if same_stamps else 0
            total += a.size
            diff = max(diff, float(np.abs(a - b).max() / size))
    return report("forecast values", matched, total, diff, "relative forecast value", len(eager), eager_s,
                  exported_s, "series/s")


def export_forecast(checkpoint: Path, fmt: str, out: Path, check, check_series: int | None, overwrite: bool,
                    versions: dict[str, str]):
    """export() for a forecaster: written beside OUT, checked on `check` (default: the
    training file, its first DEFAULT_SERIES series), published only at 100% match."""
    from rnncli.checkpoint import read_config
    from rnncli.errors import UsageError
    from rnncli.export import ExportResult, load_runner, publish_if_matching
    from rnncli.export import artifact as art
    from rnncli.tasks import task_class

    config = read_config(checkpoint)
    art.check_output(out, overwrite)
    check_file = str(check) if check is not None else (config.get("data", {}).get("train") or {}).get("path")
    if check_file is None or check_file == "-" or not Path(check_file).is_file():
        raise UsageError(f"{checkpoint}: its training file {check_file or '(none recorded)'} is not there; "
                         "give --check FILE")
    predictor = task_class("forecast").load(checkpoint, "cpu")
    series_set = predictor.read(check_file)
    series_set = dataclasses.replace(series_set, series=series_set.series[:check_series or DEFAULT_SERIES])
    tmp = art.temporary_directory(out)
    try:
        with torch.no_grad():
            written = write_forecaster(fmt, predictor, series_set, tmp)
        shutil.copyfile(checkpoint / "config.json", tmp / "checkpoint_config.json")
        manifest = art.manifest_body("forecast", fmt, checkpoint, config, predictor.model, written, versions)
        manifest = {**{k: v for k, v in manifest.items() if k != "tokenizer"}, "series": series_manifest(predictor)}
        art.write_manifest(tmp, manifest)
        figures = publish_if_matching(tmp, out, manifest, check_forecast(predictor, load_runner(tmp), series_set),
                                      check_file)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, "forecast", fmt, check_file, figures)


def exported_forecaster(directory: Path, runner):
    """`rnncli eval OUT SERIES` on an artifact: rnncli's backtest (tasks/forecast_predict.py)
    with the network's quantiles taken from the artifact; interval widening and scoring are
    rnncli's, which the export's parity check holds equal to the runner's."""
    from rnncli.export.evaluate import source_config
    from rnncli.models.forecaster import ForecasterConfig
    from rnncli.tasks.forecast_predict import SeriesForecaster

    class ExportedForecaster(SeriesForecaster):
        def network(self, batch):
            return torch.from_numpy(runner.run({k: v.numpy() for k, v in batch.items()}))

    # SeriesForecaster reads only its model's config; the network is the artifact's
    model = types.SimpleNamespace(config=ForecasterConfig.from_dict(runner.manifest["model"]))
    return ExportedForecaster(source_config(directory), None, model, torch.device("cpu"))


def warm_forecast_check(checkpoint: Path, result, check_series: int | None) -> dict[str, Any]:
    """export_benchmark's second look: the check run again after one untimed pass."""
    from rnncli.export import load_runner
    from rnncli.tasks import task_class

    predictor, runner = task_class("forecast").load(checkpoint, "cpu"), load_runner(result.out)
    series_set = predictor.read(result.check_file)
    series_set = dataclasses.replace(series_set, series=series_set.series[:check_series or DEFAULT_SERIES])
    check_forecast(predictor, runner, series_set)
    figures = check_forecast(predictor, runner, series_set)
    return {k: figures[k] for k in ("match_rate", "max_diff", "rnncli_per_s", "exported_per_s", "speed_unit")}
