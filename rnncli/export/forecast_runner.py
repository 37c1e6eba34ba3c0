"""Run a forecaster exported by `rnncli export` without rnncli: copied into the artifact as
runner.py, beside rnncli_timestamps.py and rnncli_seasons.py (rnncli's own timestamp and
calendar code, which needs only the standard library).

Needs numpy, and torch (TorchScript artifacts) or onnxruntime (ONNX artifacts).

    import sys; sys.path.insert(0, "OUT"); import runner
    model = runner.load("OUT")
    f = model.forecast(["1960-01", "1960-02", ...], [417.0, 391.0, ...], series="passengers")
    f["timestamps"], f["point"], f["quantiles"][0.9]

A forecast reads the series' timestamps as rnncli reads them (the same forms, the frequency
checked against the model's), takes the last `context` values, computes the calendar and
season features of those steps and of the horizon, runs the network, and, for models
trained with --intervals history, widens the intervals from the series' past exactly as
rnncli does (rnncli/tasks/forecast_intervals.py).
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rnncli_seasons as seasons  # noqa: E402
import rnncli_timestamps as timestamps  # noqa: E402

MIN_ORIGINS, MAX_ORIGINS, TINY = 8, 20_000, 1e-9   # as rnncli/tasks/forecast_intervals.py


class Forecaster:
    def __init__(self, directory):
        with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as f:
            self.manifest = m = json.load(f)
        s = m["series"]
        self.horizon, self.context, self.period = s["horizon"], s["context"], s["period"]
        self.freq = timestamps.Freq(s["freq"]["unit"], int(s["freq"]["step"]))
        self.quantiles, self.median = [float(q) for q in s["quantiles"]], s["median"]
        self.ids, self.covariates, self.keys = s["ids"], s["covariates"], m["inputs"]
        self.calendar, self.seasons, self.history = s["calendar"], s["seasons"], s["intervals"] == "history"
        files = m["files"]
        if m["format"] == "onnx":
            import onnxruntime

            self.session = onnxruntime.InferenceSession(os.path.join(directory, files["graphs"]["model"]),
                                                        providers=["CPUExecutionProvider"])
            used = [i.name for i in self.session.get_inputs()]   # the exporter drops inputs a graph ignores
            self.run = lambda batch: self.session.run(None, {k: batch[k] for k in used})[0]
        else:
            import torch

            module = torch.jit.load(os.path.join(directory, files["module"]), map_location="cpu")
            module.eval()

            def run(batch):
                with torch.no_grad():
                    return module(*[torch.from_numpy(batch[k]) for k in self.keys]).numpy()
            self.run = run

    def forecast(self, stamps, values, series=None, covariates=None, horizon=None):
        """One series continued from its end: {"timestamps", "point", "quantiles": {q: [...]}}."""
        return self.forecast_many([(stamps, values, series, covariates)], horizon)[0]

    def forecast_many(self, items, horizon=None):
        """Several series at once, each (timestamps, values, series name or None, covariates
        {name: values} or None); one network call per 256 series."""
        horizon = self.horizon if horizon is None else int(horizon)
        if not 1 <= horizon <= self.horizon:
            raise ValueError(f"horizon {horizon}: this model forecasts 1 to {self.horizon} steps")
        prepared = [self.window(*item) for item in items]
        out = []
        for start in range(0, len(prepared), 256):
            chunk = prepared[start:start + 256]
            batch = {k: np.stack([p[0][k] for p in chunk]) for k in self.keys}
            for (_, values, index), rows in zip(chunk, self.run(batch)):
                if self.history:
                    rows = widen(rows, history_offsets(values, self.horizon, self.period, self.quantiles),
                                 self.median)
                rows = rows[:horizon]
                out.append({"timestamps": index.future_labels(horizon), "point": rows[:, self.median].tolist(),
                            "quantiles": {q: rows[:, j].tolist() for j, q in enumerate(self.quantiles)}})
        return out

    def window(self, stamps, values, series=None, covariates=None):
        """(the network's inputs for one series, its values as float64, its time index)."""
        name = series or "series"
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or len(values) != len(stamps):
            raise ValueError(f"{name}: {len(stamps)} timestamps but {values.size} values")
        if len(values) < self.context or not np.isfinite(values).all():
            raise ValueError(f"{name}: needs at least {self.context} finite values, got {len(values)}")
        index = timestamps.parse_index(list(stamps), list(range(1, len(stamps) + 1)), name, self.freq)
        if index.freq != self.freq:
            raise ValueError(f"{name}: {index.freq.name} timestamps, but the model was trained on "
                             f"{self.freq.name} data")
        c, h = self.context, self.horizon
        positions = list(index.positions[-c:]) + index.future(h)
        inputs = {"past": values[-c:].astype(np.float32),
                  "series": np.asarray(self.ids.get(series, 0), dtype=np.int64)}
        if self.calendar:
            table = np.asarray(seasons.calendar_features(positions, self.freq), dtype=np.float32)
            inputs["past_calendar"], inputs["future_calendar"] = table[:c], table[c:]
        if self.seasons:
            table = np.asarray(seasons.season_index(positions, self.freq), dtype=np.int64)
            inputs["past_season"], inputs["future_season"] = table[:c], table[c:]
        if self.covariates:
            missing = [k for k in self.covariates if k not in (covariates or {})]
            if missing:
                raise ValueError(f"{name}: no covariate {missing[0]!r} (the model reads it)")
            inputs["past_covariates"] = np.stack([np.asarray(covariates[k], dtype=np.float32)[-c:]
                                                  for k in self.covariates], 1)
        return inputs, values, index


def history_offsets(values, horizon, period, levels):
    """rnncli's tasks/forecast_intervals.history_offsets in numpy: (H, Q) offsets from the
    median, the seasonal naive forecast's error quantiles over the series' past."""
    lag = max(1, period)
    context = max(lag, horizon)
    count = len(values) - horizon - context + 1
    if count < MIN_ORIGINS:
        return None
    origins = np.arange(context + max(0, count - MAX_ORIGINS), len(values) - horizon + 1)
    steps = np.arange(horizon)
    actual = values[origins[:, None] + steps]
    naive = values[origins[:, None] - lag + steps % lag]
    windows = np.lib.stride_tricks.sliding_window_view(np.abs(values), context)
    level = windows[origins - context].mean(1)
    usable = level > TINY
    if usable.sum() < MIN_ORIGINS:
        return None
    errors = (actual - naive)[usable] / level[usable][:, None]
    quantiles = np.quantile(errors, list(levels) + [0.5], axis=0)
    offsets = (quantiles[:-1] - quantiles[-1]).T
    return (offsets * np.abs(values[-context:]).mean()).astype(np.float32)


def widen(rows, offsets, median):
    """The union of the network's band and median + offsets (rnncli's widen)."""
    if offsets is None:
        return rows
    band = rows[:, median:median + 1] + offsets
    out = rows.copy()
    out[:, :median] = np.minimum(rows[:, :median], band[:, :median])
    out[:, median + 1:] = np.maximum(rows[:, median + 1:], band[:, median + 1:])
    return out


def load(directory):
    return Forecaster(directory)
