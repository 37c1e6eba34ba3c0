"""Training curves of a checkpoint (`rnncli info CKPT --curves / --plot-out FILE.png`): the
training loss of metrics.jsonl's "train" records and the validation metric of its "eval"
records against steps; in the terminal (plotext) or as a PNG image (matplotlib). Both come
with `rnncli[plot]`; without them the command says what to install."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from rnncli.errors import CheckpointError, UsageError

ANSI = re.compile(r"\x1b\[[0-9;]*m")
NOT_METRICS = {"kind", "step", "epoch", "lr", "elapsed"}
EXTRA = "pip install 'rnncli[plot]'"


def curve_data(checkpoint: Path, best: dict[str, Any] | None) -> dict[str, Any]:
    """The points to draw: {"metric", "train": [{step, loss, lr, units_per_s, unit}],
    "eval": [{step, value}]}; a checkpoint with no record at all is a CheckpointError."""
    from rnncli.checkpoint import METRICS_FILE, read_metrics

    records = read_metrics(checkpoint, kind=None)
    evals = [r for r in records if r.get("kind", "eval") == "eval" and isinstance(r.get("step"), int)]
    trains = [r for r in records if r.get("kind") == "train" and isinstance(r.get("step"), int)]
    if not evals and not trains:
        raise CheckpointError(f"{checkpoint / METRICS_FILE}: no training or evaluation records to draw "
                              "(was training stopped before its first record?)")
    metric = best["metric"] if best else next(
        (k for r in evals for k, v in r.items() if k not in NOT_METRICS and isinstance(v, (int, float))), None)
    return {
        "metric": metric,
        "train": [{k: r.get(k) for k in ("step", "loss", "lr", "units_per_s", "unit")}
                  for r in trains if isinstance(r.get("loss"), (int, float))],
        "eval": [{"step": r["step"], "value": r[metric]} for r in evals
                 if isinstance(r.get(metric), (int, float))],
    }


def terminal_curves(data: dict[str, Any], width: int | None = None, height: int = 15,
                    color: bool = False) -> str:
    """The training loss and the validation metric as two text plots, one under the other."""
    try:
        import plotext as plt
    except ImportError:
        raise UsageError(f"--curves needs plotext: {EXTRA}") from None
    width = width or max(40, min(140, shutil.get_terminal_size((100, 24)).columns))
    panels = []
    for title, points, key in panels_of(data):
        plt.clear_figure()
        plt.plotsize(width, height)
        plt.theme("clear")
        plt.title(title)
        plt.xlabel("step")
        if points:
            steps = [p["step"] for p in points]
            plt.plot(steps, [p[key] for p in points], marker="braille" if len(points) > 1 else "dot")
            ticks = sorted({round(steps[0] + (steps[-1] - steps[0]) * i / 4) for i in range(5)})
            plt.xticks(ticks, [str(t) for t in ticks])      # steps are whole numbers
            text = plt.build()
        else:
            text = f"{title}: no records\n"
        panels.append(text if color else ANSI.sub("", text))
    return "\n".join(panel.rstrip("\n") for panel in panels) + "\n"


def panels_of(data: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]], str]]:
    train, evals = data["train"], data["eval"]
    loss_title = "training loss, mean per --log-every steps"
    if train:
        loss_title += f" (last {train[-1]['loss']:.4f} at step {train[-1]['step']})"
    else:
        loss_title += " (none recorded: a run shorter than --log-every, or an older rnncli)"
    eval_title = f"validation {data['metric'] or 'metric'}"
    if evals:
        eval_title += f" (last {evals[-1]['value']:.4f} at step {evals[-1]['step']})"
    return [(loss_title, train, "loss"), (eval_title, evals, "value")]


def image_curves(path: Path, data: dict[str, Any]) -> None:
    """Both curves in one PNG (the learning rate on the loss panel's right axis), written atomically."""
    if path.suffix.lower() != ".png":
        raise UsageError(f"--plot-out {path}: give a .png file name")
    try:
        import matplotlib
    except ImportError:
        raise UsageError(f"--plot-out needs matplotlib: {EXTRA}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    from rnncli.atomic import atomic_path

    figure, (loss_axis, eval_axis) = pyplot.subplots(2, 1, figsize=(9, 6.4), sharex=True)
    (loss_title, train, _), (eval_title, evals, _) = panels_of(data)
    if train:
        steps = [p["step"] for p in train]
        loss_axis.plot(steps, [p["loss"] for p in train], color="tab:blue", linewidth=1.2, label="training loss")
        if all(isinstance(p["lr"], (int, float)) for p in train):
            rate_axis = loss_axis.twinx()
            rate_axis.plot(steps, [p["lr"] for p in train], color="tab:gray", linewidth=0.8, linestyle="--")
            rate_axis.set_ylabel("learning rate", color="tab:gray")
    loss_axis.set_title(loss_title, fontsize="medium")
    loss_axis.set_ylabel("loss")
    if evals:
        eval_axis.plot([p["step"] for p in evals], [p["value"] for p in evals], color="tab:orange",
                       marker="o", markersize=3, linewidth=1.2)
    eval_axis.set_title(eval_title, fontsize="medium")
    eval_axis.set_ylabel(data["metric"] or "metric")
    eval_axis.set_xlabel("step")
    figure.tight_layout()
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, format="png", dpi=100)
    except OSError as exc:
        raise UsageError(f"--plot-out {path}: cannot write ({exc.strerror})") from None
    finally:
        pyplot.close(figure)
