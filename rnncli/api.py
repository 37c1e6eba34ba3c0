"""The Python API, for scripts; the command line is written on it.

    import rnncli
    tagger = rnncli.load("runs/ner")                      # the task's object, by its config
    tagger.tag(["Anna Holm visited Valmora ."])           # tokens, tags, spans
    result = rnncli.train("classify", train="train.tsv", valid="dev.tsv", out="runs/sent", hidden=64)

`train` takes the command line's option names (underscores for dashes) and validates
them the same way (one ConfigError naming the option, value and what is wrong); the
predictors take str or Path and return plain Python values (text, labels, numbers).
This module imports nothing heavy itself: torch comes with the task that needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from rnncli.config import check_known, coerce, field_specs, read_config_file, FieldSpec
from rnncli.errors import ConfigError, UsageError
from rnncli.tasks import TASKS, spec, task_class

# Options of a training run that are not settings of the model or the loop.
RUN_OPTIONS = {"out": FieldSpec("out", str, None, "", None, None, None),
               "resume": FieldSpec("resume", bool, False, "", None, None, None),
               "overwrite": FieldSpec("overwrite", bool, False, "", None, None, None),
               "quiet": FieldSpec("quiet", bool, False, "", None, None, None),
               "json": FieldSpec("json", bool, False, "", None, None, None)}


@dataclass
class TrainResult:
    """What a finished (or stopped) training run reports."""

    checkpoint: Path
    reason: str                 # completed, max steps, max time, early stopping
    steps: int
    metric: str
    best: float | None
    best_step: int | None
    skipped_steps: int
    seconds: float


def load(checkpoint: str | Path, device: str = "auto", **options: Any):
    """The trained model in `checkpoint`, as its task's object (TextGenerator,
    TextClassifier, SequenceTagger, Translator). Translation takes int8= and shortlist=."""
    from rnncli.checkpoint import read_config

    task = read_config(checkpoint)["task"]
    if task not in TASKS:
        raise UsageError(f"{checkpoint}: a checkpoint of unknown task {task!r}; the tasks are: {', '.join(TASKS)}")
    return task_class(task).load(Path(checkpoint), device, **options)


def make_run(task: str, options: Mapping[str, Any], config_file: str | Path | None = None):
    """(Run, {"quiet", "json"}) from option values (None: not given) and a --config file;
    the given values win over the file's, the file's over the task's defaults."""
    from rnncli.tasks.base import Run

    task_spec = spec(task)
    settings_specs = {**field_specs(task_spec.training), **field_specs(task_spec.settings)}
    inputs = {i.name: FieldSpec(i.name, str, None, "", None, None, None) for i in task_spec.inputs}
    known = {**settings_specs, **inputs, **RUN_OPTIONS}
    given = {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items() if v is not None}
    check_known(given, set(known), "")
    for name in set(given) & (set(inputs) | set(RUN_OPTIONS)):   # settings check themselves
        given[name], problem = coerce(known[name], given[name])
        if problem:
            raise ConfigError(f"--{name.replace('_', '-')} {given[name]!r} {problem}")
    file_values: dict[str, Any] = {}
    if config_file is not None:
        file_values = read_config_file(config_file)
        check_known(file_values, set(known), f"{config_file}: ")
        for name, value in file_values.items():
            file_values[name], problem = coerce(known[name], value)
            if problem:
                raise ConfigError(f"{config_file}: {name} = {value!r} {problem}")
    merged = {**file_values, **given}
    for i in task_spec.inputs:
        if i.required and merged.get(i.name) is None:
            raise UsageError(f"missing option {i.option_name} (give it on the command line or in --config)")
    if merged.get("out") is None:
        raise UsageError("missing option --out (give it on the command line or in --config)")
    train = task_spec.training(**{k: v for k, v in merged.items() if k in field_specs(task_spec.training)})
    settings = task_spec.settings(**{k: v for k, v in merged.items() if k in field_specs(task_spec.settings)})
    files = {name: (Path(merged[name]) if merged.get(name) is not None else None) for name in inputs}
    run = Run(task, files, Path(merged["out"]), train, settings, resume=bool(merged.get("resume")),
              overwrite=bool(merged.get("overwrite")),
              given=frozenset(k for k in merged if k in settings_specs))
    return run, {"quiet": bool(merged.get("quiet")), "json": bool(merged.get("json"))}


def train_events(task: str, options: Mapping[str, Any], config_file: str | Path | None = None
                 ) -> tuple[dict[str, bool], Iterator[Any]]:
    """({"quiet", "json"}, the run's events): what `rnncli train TASK` renders."""
    from rnncli.tasks.base import train as run_task

    run, meta = make_run(task, options, config_file)
    return meta, run_task(run)


def train(task: str, *, config: str | Path | None = None, on_event: Callable[[Any], None] | None = None,
          **options: Any) -> TrainResult:
    """Train a model as `rnncli train TASK` would; `on_event` sees every training event."""
    from rnncli.tasks.base import train as run_task
    from rnncli.training import Finished

    run, _ = make_run(task, options, config)
    finished = None
    for event in run_task(run):
        if on_event is not None:
            on_event(event)
        if isinstance(event, Finished):
            finished = event
    return TrainResult(run.out, finished.reason, finished.step, finished.metric, finished.best_value,
                       finished.best_step, finished.skipped_steps, round(finished.elapsed, 2))


def evaluate(checkpoint: str | Path, data: list[str | Path], device: str = "auto", **options: Any) -> dict[str, Any]:
    """`rnncli eval CKPT DATA...`: the task's report on labelled data (options: batch_size,
    scheme for tagging; beam, length_penalty, int8, shortlist, ... for translation)."""
    from rnncli.checkpoint import read_config

    task = read_config(checkpoint)["task"]
    if task not in TASKS:
        raise UsageError(f"{checkpoint}: no evaluator for task {task!r}")
    return task_class(task).evaluate_checkpoint(Path(checkpoint), [str(d) for d in data], device, **options)


def evaluate_translations(hyp: str | Path, refs: list[str | Path]) -> dict[str, Any]:
    """Score a translation output file against reference file(s) (BLEU, chrF, TER)."""
    from rnncli.tasks.translate_output import evaluate_output_files

    return evaluate_output_files(str(hyp), [str(r) for r in refs])


def evaluate_tags(pred: str | Path, gold: str | Path, scheme: str | None = None) -> dict[str, Any]:
    """Score a predicted CoNLL file against a gold one (seqeval strict entity P/R/F1)."""
    from rnncli.tasks.tag_output import evaluate_tag_files

    return evaluate_tag_files(str(pred), str(gold), scheme)


def evaluate_forecasts(pred: str | Path, actual: str | Path, baselines: bool = True,
                       **read_options: Any) -> dict[str, Any]:
    """Score a forecast file (what `rnncli forecast` writes) against the actual series (MASE,
    sMAPE, quantile loss, coverage; with baselines fitted on the same history). read_options:
    time_column, target, id_column, freq, format of the actual file."""
    from rnncli.tasks.forecast_output import evaluate_forecast_file

    options = {k: v for k, v in read_options.items() if v is not None}
    if isinstance(options.get("target"), str):
        options["target"] = [part.strip() for part in options["target"].split(",") if part.strip()]
    return evaluate_forecast_file(str(pred), str(actual), options, baselines)


def info(checkpoint: str | Path) -> dict[str, Any]:
    """What a checkpoint is, how it was trained (its settings), on what data."""
    from rnncli.tasks.describe import describe

    return describe(Path(checkpoint))
