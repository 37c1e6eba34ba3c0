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


def evaluate_classifications(pred: str | Path, gold: str | Path, text_field: str | None = None,
                             label_field: str | None = None) -> dict[str, Any]:
    """Score a classification output file (what `rnncli classify` writes, in any output
    format) against labelled gold data (what `rnncli train classify` reads): accuracy,
    macro/micro P/R/F1, per-label scores, and coverage (abstentions count as wrong)."""
    from rnncli.tasks.classify_files import evaluate_classification_file

    return evaluate_classification_file(pred, gold, text_field, label_field)


def compare_translations(hyps: list[str | Path], refs: list[str | Path], resamples: int = 1000,
                         seed: int = 12345, method: str = "bs") -> dict[str, Any]:
    """Score several translation output files against the same reference(s) (each checked
    to line up with them), then test each against the first with sacrebleu's paired test (method "bs": paired bootstrap, "ar":
    approximate randomization) on BLEU, chrF and TER."""
    from rnncli.metrics.significance import comparison_report, translation_comparisons
    from rnncli.readers.parallel import read_references
    from rnncli.readers.text import read_lines

    names = system_names(hyps, "--hyp")
    reports, systems, references = [], [], None
    for name, hyp in zip(names, hyps):
        reports.append((name, evaluate_translations(hyp, refs)))
        lines = read_lines(hyp, allow_empty=True)
        references = references or read_references([str(r) for r in refs], len(lines), hyp)
        systems.append((name, lines))
    comparisons = translation_comparisons(systems, references, resamples, seed, method)
    return comparison_report("translate", reports, comparisons, "bleu", resamples, seed, method)


def compare_tags(preds: list[str | Path], gold: str | Path, scheme: str | None = None, resamples: int = 1000,
                 seed: int = 12345, method: str = "bs") -> dict[str, Any]:
    """Score several predicted CoNLL files against one gold file, then test each against the
    first on entity F1 (seqeval strict), resampling sentences."""
    import numpy as np

    from rnncli.metrics.significance import comparison_report, f1_score, paired_test
    from rnncli.tasks.tag_output import tag_sentence_statistics

    names = system_names(preds, "--pred")
    reports, stats = [], []
    for name, pred in zip(names, preds):
        report, counts = tag_sentence_statistics(str(pred), str(gold), scheme)
        reports.append((name, report))
        stats.append(np.asarray(counts, dtype=float).reshape(-1, 3))
    comparisons = [paired_test(stats[0], stats[i], f1_score, metric="f1", names=(names[0], names[i]),
                               resamples=resamples, seed=seed, method=method) for i in range(1, len(names))]
    return comparison_report("tag", reports, comparisons, "f1", resamples, seed, method)


def compare_forecasts(preds: list[str | Path], actual: str | Path, baselines: bool = True, resamples: int = 1000,
                      seed: int = 12345, method: str = "bs", **read_options: Any) -> dict[str, Any]:
    """Score several forecast files against the same series, then test each against the
    first on MASE (the mean over series), resampling series."""
    from rnncli.errors import DataError
    from rnncli.metrics.significance import comparison_report, mean_statistics, paired_test, ratio_score

    names = system_names(preds, "--pred")
    reports = [(name, evaluate_forecasts(pred, actual, baselines, **read_options)) for name, pred in zip(names, preds)]
    series = list(reports[0][1]["per_series"])
    stats = []
    for (name, report), pred in zip(reports, preds):
        if sorted(report["per_series"]) != sorted(series):
            raise DataError(f"{pred}: forecasts series {', '.join(sorted(report['per_series']))}, but "
                            f"{preds[0]} forecasts {', '.join(sorted(series))}; compare forecasts of the same series")
        stats.append(mean_statistics([report["per_series"][s]["rnncli"]["mase"] for s in series]))
    comparisons = [paired_test(stats[0], stats[i], ratio_score, metric="mase", names=(names[0], names[i]),
                               resamples=resamples, seed=seed, method=method, higher_is_better=False)
                   for i in range(1, len(names))]
    return comparison_report("forecast", reports, comparisons, "mase", resamples, seed, method)


def compare_classifications(preds: list[str | Path], gold: str | Path, text_field: str | None = None,
                            label_field: str | None = None, resamples: int = 1000, seed: int = 12345,
                            method: str = "bs") -> dict[str, Any]:
    """Score several classification output files against the same gold data, then test each
    against the first on accuracy and macro F1, resampling examples."""
    from rnncli.metrics.significance import (comparison_report, label_statistics, macro_f1_score, mean_statistics,
                                             paired_test, ratio_score)
    from rnncli.tasks.classify_files import read_gold, score_prediction_file

    names = system_names(preds, "--pred")
    gold_data = read_gold(gold, text_field, label_field)
    reports, stats = [], []
    for name, pred in zip(names, preds):
        report, gold_ids, predicted = score_prediction_file(pred, gold_data)
        reports.append((name, report))
        correct = [float(p == g) for p, g in zip(predicted, gold_ids)]
        stats.append({"accuracy": (mean_statistics(correct), ratio_score),
                      "macro_f1": (label_statistics(gold_ids, predicted, len(gold_data[1])), macro_f1_score)})
    comparisons = [paired_test(stats[0][metric][0], stats[i][metric][0], stats[0][metric][1], metric=metric,
                               names=(names[0], names[i]), resamples=resamples, seed=seed, method=method)
                   for i in range(1, len(names)) for metric in ("accuracy", "macro_f1")]
    return comparison_report("classify", reports, comparisons, "accuracy", resamples, seed, method)


def compare_checkpoints(checkpoints: list[str | Path], data: list[str | Path], device: str = "auto",
                        scheme: str | None = None, resamples: int = 1000, seed: int = 12345, method: str = "bs",
                        **decode: Any) -> dict[str, Any]:
    """Several checkpoints of one task on the same data (translate: SRC REF...; tag: a CoNLL
    file; classify: a labelled file): each one's output goes to a temporary file and the files are compared as
    compare_translations / compare_tags do, the systems named by their checkpoints.
    decode: beam, length_penalty, beam_stop, batch_size, int8, shortlist (translation)."""
    import tempfile

    from rnncli.checkpoint import read_config

    names = system_names(checkpoints, "checkpoint")
    tasks = [read_config(c)["task"] for c in checkpoints]
    if len(set(tasks)) != 1:
        raise UsageError(f"checkpoints of different tasks cannot be compared: {', '.join(sorted(set(tasks)))}")
    if tasks[0] not in ("translate", "tag", "classify"):
        raise UsageError(f"comparing checkpoints works for translate, tag and classify; for {tasks[0]}, compare "
                         "output files (several --pred with --actual for forecasts)")
    with tempfile.TemporaryDirectory(prefix="rnncli-compare-") as tmp:
        outputs = [Path(tmp) / f"system-{i}" for i in range(len(names))]
        if tasks[0] == "translate":
            report = _compare_translators(checkpoints, data, outputs, device, decode, resamples, seed, method)
        elif tasks[0] == "classify":
            report = _compare_classifiers(checkpoints, data, outputs, device, decode.get("batch_size"), resamples,
                                          seed, method)
        else:
            report = _compare_taggers(checkpoints, data, outputs, Path(tmp) / "gold", device, scheme,
                                      decode.get("batch_size"), resamples, seed, method)
    return _renamed(report, {str(out): name for out, name in zip(outputs, names)})


def _compare_translators(checkpoints, data, outputs, device, decode, resamples, seed, method) -> dict[str, Any]:
    from rnncli.readers.text import read_lines

    if len(data) < 2:
        raise UsageError("checkpoints of translation are compared on a source and a reference: "
                         "rnncli eval CKPT_A CKPT_B SRC REF")
    lines = read_lines(str(data[0]))
    search = {k: v for k, v in decode.items()
              if k in ("beam", "length_penalty", "beam_stop", "batch_size") and v is not None}
    for checkpoint, out in zip(checkpoints, outputs):
        translator = load(checkpoint, device, int8=bool(decode.get("int8")), shortlist=bool(decode.get("shortlist")))
        out.write_text("".join(t.text + "\n" for t in translator.translate(lines, **search)), encoding="utf-8")
    return compare_translations(outputs, [str(r) for r in data[1:]], resamples, seed, method)


def _compare_taggers(checkpoints, data, outputs, gold_copy: Path, device, scheme, batch_size, resamples, seed,
                     method) -> dict[str, Any]:
    from rnncli.checkpoint import read_config
    from rnncli.tasks.tag import read_tagged

    if len(data) != 1:
        raise UsageError("checkpoints of tagging are compared on one CoNLL file: rnncli eval CKPT_A CKPT_B FILE")
    sentences = read_tagged(str(data[0]), read_config(checkpoints[0])["options"])
    write_conll(gold_copy, [s.words for s in sentences], [s.tags for s in sentences])
    for checkpoint, out in zip(checkpoints, outputs):
        tagger = load(checkpoint, device)
        tagged = tagger.tag([s.words for s in sentences], **({"batch_size": batch_size} if batch_size else {}))
        write_conll(out, [s.words for s in sentences], [t.tags for t in tagged])
    return compare_tags(outputs, gold_copy, scheme, resamples, seed, method)


def _compare_classifiers(checkpoints, data, outputs, device, batch_size, resamples, seed,
                         method) -> dict[str, Any]:
    """Each classifier labels the gold file's texts (read with the first checkpoint's field
    options) into a file of bare labels; the files are compared as compare_classifications."""
    from rnncli.checkpoint import read_config
    from rnncli.tasks.classify_files import read_gold

    if len(data) != 1:
        raise UsageError("checkpoints of classification are compared on one labelled file: "
                         "rnncli eval CKPT_A CKPT_B FILE")
    options = read_config(checkpoints[0])["options"]
    fields = {"text_field": options.get("text_field"), "label_field": options.get("label_field")}
    examples, _, _ = read_gold(data[0], **fields)
    texts = [e.text for e in examples]
    for checkpoint, out in zip(checkpoints, outputs):
        predictions = load(checkpoint, device).classify(texts, **({"batch_size": batch_size} if batch_size else {}))
        out.write_text("".join(f"{p.label}\n" for p in predictions), encoding="utf-8")
    return compare_classifications(outputs, data[0], resamples=resamples, seed=seed, method=method, **fields)


def write_conll(path: Path, words: list[list[str]], tags: list[list[str]]) -> None:
    """Two-column CoNLL (word, tag), a blank line after each sentence."""
    path.write_text("".join("".join(f"{w} {t}\n" for w, t in zip(ws, ts)) + "\n" for ws, ts in zip(words, tags)),
                    encoding="utf-8")


def _renamed(value: Any, names: dict[str, str]) -> Any:
    """The report with the temporary files' names replaced by the checkpoints'."""
    if isinstance(value, str):
        return names.get(value, value)
    if isinstance(value, dict):
        return {_renamed(k, names): _renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_renamed(v, names) for v in value]
    if isinstance(value, tuple):
        return tuple(_renamed(v, names) for v in value)
    return value


def system_names(paths: list[str | Path], option: str) -> list[str]:
    """The systems' names in a comparison: their paths as given, which must differ."""
    names = [str(p) for p in paths]
    if len(names) < 2:
        raise UsageError(f"a comparison needs at least two {option} files")
    repeated = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if repeated is not None:
        raise UsageError(f"{option} {repeated} is given twice; compare different files")
    return names


def info(checkpoint: str | Path) -> dict[str, Any]:
    """What a checkpoint is, how it was trained (its settings), on what data."""
    from rnncli.tasks.describe import describe

    return describe(Path(checkpoint))
