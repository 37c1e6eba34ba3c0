"""`rnncli export`: a trained model as a standalone artifact (TorchScript or ONNX), checked
against rnncli before it appears.

    from rnncli.export import export
    result = export("runs/ner", "torchscript", "exported/ner")   # -> ExportResult

Modules: blocks.py, scripted.py, beam.py (scriptable models, decoding included),
graphs.py (writing model.pt or the ONNX graphs), artifact.py (layout, manifest, atomic
publication), runner.py (the standalone runner shipped in the artifact), parity.py (the
side-by-side check), evaluate.py (`rnncli eval` on an artifact).
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnncli.errors import RnncliError, UsageError


class ParityError(RnncliError):
    """The exported model disagrees with rnncli (exit 1: the artifact was removed)."""

    exit_code = 1


@dataclass
class ExportResult:
    out: Path
    task: str
    format: str
    check_file: str | None
    parity: dict[str, Any]


def load_runner(directory: Path):
    """The artifact's own runner.py, loaded from the artifact (what a user runs)."""
    spec = importlib.util.spec_from_file_location(f"rnncli_export_runner_{abs(hash(str(directory)))}",
                                                  directory / "runner.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load(directory)


def export(checkpoint: str | Path, fmt: str, out: str | Path, check: str | Path | None = None,
           check_lines: int | None = None, overwrite: bool = False, decode=None) -> ExportResult:
    """Write the artifact, run the parity check on `check` (default: the checkpoint's
    validation data), and publish it only at 100% exact match."""
    from rnncli.checkpoint import read_config
    from rnncli.export import artifact as art
    from rnncli.export import graphs, parity

    if fmt not in art.FORMATS:
        raise UsageError(f"--format {fmt!r} is not one of: {', '.join(art.FORMATS)}")
    versions = graphs.require_onnx() if fmt == "onnx" else {}
    checkpoint, out = Path(checkpoint), Path(out)
    config = read_config(checkpoint)
    task = config["task"]
    if task == "forecast":   # numbers, not text: its own graph, runner and check (forecast.py)
        from rnncli.export.forecast import export_forecast

        return export_forecast(checkpoint, fmt, out, check, check_lines, overwrite, versions)
    if task not in art.TASKS:
        raise UsageError(f"{checkpoint}: a {task!r} checkpoint; export supports {', '.join(art.TASKS)}")
    art.check_output(out, overwrite)
    check_file = str(check) if check is not None else parity.default_check_file(config, checkpoint)
    if check_file is None or not Path(check_file).is_file():
        raise UsageError(f"{checkpoint}: its validation data {check_file or '(none recorded)'} is not there; "
                         "give --check FILE")
    limit = check_lines or parity.DEFAULT_LINES[task]
    inputs = parity.check_inputs(task, config, check_file, limit)
    import torch
    from rnncli.tasks import task_class

    predictor = task_class(task).load(checkpoint, "cpu")
    model = predictor.model
    tmp = art.temporary_directory(out)
    try:
        with torch.no_grad():
            write = graphs.write_onnx if fmt == "onnx" else graphs.write_torchscript
            written = write(task, model, tmp, graphs.wrapper_options(task, predictor))
        art.fill_directory(tmp, checkpoint)
        manifest = art.manifest_body(task, fmt, checkpoint, config, model, written, versions)
        art.write_manifest(tmp, manifest)
        figures = parity.CHECKS[task](predictor, load_runner(tmp), inputs, decode=decode, onnx=fmt == "onnx")
        figures = publish_if_matching(tmp, out, manifest, figures, check_file)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, task, fmt, check_file, figures)


def publish_if_matching(tmp: Path, out: Path, manifest: dict[str, Any], figures: dict[str, Any],
                        check_file: str) -> dict[str, Any]:
    """The parity figures into the manifest and the artifact onto OUT, at 100% match only."""
    from rnncli.export import artifact as art

    figures = {**figures, "check_file": check_file}
    if figures["match_rate"] < 1.0:
        raise ParityError(f"export parity failed: {figures['matched']:,} of {figures['total']:,} "
                          f"{figures['units']} match ({100 * figures['match_rate']:.2f}%) on {check_file}; "
                          "no artifact written")
    art.write_manifest(tmp, {**manifest, "parity": figures})
    art.publish(tmp, out)
    return figures


def export_benchmark(checkpoint: str | Path, check: str | Path | None = None,
                     check_lines: int | None = None) -> dict[str, Any]:
    """Parity and speed of both formats (eager vs TorchScript vs ONNX Runtime), for the
    bench/ scripts' --export: each artifact is written to a temporary directory, checked
    once more warm (the export's own check includes first-call costs: TorchScript's
    profiling runs, ONNX Runtime's first session runs), and dropped."""
    import tempfile

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="rnncli-export-bench-") as tmp:
        for fmt in ("torchscript", "onnx"):
            try:
                result = export(checkpoint, fmt, Path(tmp) / fmt, check, check_lines)
                figures[fmt] = {**result.parity, "warm": warm_check(checkpoint, result, check_lines)}
            except RnncliError as exc:   # e.g. onnx not installed, or a parity failure: recorded
                figures[fmt] = {"error": str(exc)}
    return figures


def warm_check(checkpoint: Path, result: ExportResult, check_lines: int | None) -> dict[str, Any]:
    """The parity check run again on the published artifact after one untimed pass."""
    from rnncli.checkpoint import read_config
    from rnncli.export import parity
    from rnncli.tasks import task_class

    if result.task == "forecast":
        from rnncli.export.forecast import warm_forecast_check

        return warm_forecast_check(Path(checkpoint), result, check_lines)
    config = read_config(Path(checkpoint))
    limit = check_lines or parity.DEFAULT_LINES[result.task]
    inputs = parity.check_inputs(result.task, config, result.check_file, limit)
    predictor, runner = task_class(result.task).load(Path(checkpoint), "cpu"), load_runner(result.out)
    check = parity.CHECKS[result.task]
    check(predictor, runner, inputs, onnx=result.format == "onnx")
    figures = check(predictor, runner, inputs, onnx=result.format == "onnx")
    return {k: figures[k] for k in ("match_rate", "max_diff", "rnncli_per_s", "exported_per_s", "speed_unit")}
