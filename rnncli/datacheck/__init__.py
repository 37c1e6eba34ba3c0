"""`rnncli data check`: is a data set fit to train on? One streaming pass over each file.

    check("classify", {"train": "train.tsv", "valid": "dev.tsv"}, CheckOptions()) -> Report

Each task's files are those of its `train` command (rnncli/tasks/settings.py: the
TaskSpec inputs), read with the same options. The report lists findings (error: training
would refuse the data or learn from broken data; warning: it trains, but something
deserves a look; note: a fact), with file:line for each, and per-file statistics.
Report.exit_code is 2 with errors, 1 with warnings only, 0 when clean.

Modules: scan.py (bytes and lines), stats.py (bounded summaries), common.py (shared
findings), text.py (lm, translate), labelled.py (classify), conll.py (tag), series.py
(forecast), report.py (findings and the report).
"""

from __future__ import annotations

from rnncli.datacheck.common import CheckOptions
from rnncli.datacheck.report import Findings, Report
from rnncli.datacheck.stats import EXACT, RATIO
from rnncli.errors import UsageError

TASK_NAMES = ("lm", "classify", "tag", "translate", "forecast")

METHODS = {
    "reading": "each file once, line by line in bounded pieces (lines kept up to 16 MiB)",
    "duplicates": "64-bit BLAKE2b hash of each record with its line number (12 bytes a record, never the "
                  "text); equal hashes are taken as equal records",
    "percentiles": f"histogram exact below {EXACT} and in {RATIO - 1:.0%}-wide buckets above (a percentile "
                   "there is within 1% below the true one); counts over a length limit are exact",
    "lengths": "whitespace-separated words (tokens for CoNLL, rows for series); subword pieces are at "
               "least as many, so counts over --max-len are lower bounds for piece limits",
}


def check(task: str, files: dict[str, str | None], options: CheckOptions | None = None) -> Report:
    """Check the files of `task` (input name -> path, "-" for stdin, None: not given)."""
    from rnncli.datacheck import conll, labelled, series, text
    from rnncli.tasks.settings import ClassifySettings, TranslateSettings

    options = options or CheckOptions()
    files = {name: str(path) for name, path in files.items() if path is not None}
    if sum(path == "-" for path in files.values()) > 1:
        raise UsageError("only one file can be read from stdin (-)")
    findings = Findings()
    if task == "lm":
        report = text.check_lm(files, options, findings)
    elif task == "classify":
        report = labelled.check_classify(files, options, findings, ClassifySettings.max_length)
    elif task == "tag":
        report = conll.check_tag(files, tag_defaults(options), findings)
    elif task == "translate":
        report = text.check_translate(files, options, findings, TranslateSettings.max_len)
    elif task == "forecast":
        report = series.check_forecast(files, options, findings)
    else:
        raise UsageError(f"--task {task!r} is not one of: {', '.join(TASK_NAMES)}")
    report.methods = dict(METHODS)
    return report


def tag_defaults(options: CheckOptions) -> CheckOptions:
    """The tagger's column options, defaulting as `train tag` does."""
    import dataclasses

    from rnncli.tasks.settings import TagSettings

    return dataclasses.replace(
        options, word_column=options.word_column if options.word_column is not None else TagSettings.word_column,
        tag_column=options.tag_column if options.tag_column is not None else TagSettings.tag_column,
        sep=options.sep or TagSettings.sep)


__all__ = ["CheckOptions", "Report", "TASK_NAMES", "check"]
