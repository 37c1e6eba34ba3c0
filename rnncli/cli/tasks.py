"""The CLI module of each task: its inference command, and how `eval` renders and warns
about its reports. A literal table, the command line's side of rnncli.tasks.TASKS."""

from __future__ import annotations

from rnncli.cli import classify, forecast, lm, tag, translate

TASK_CLI = {
    "lm": lm,
    "classify": classify,
    "tag": tag,
    "translate": translate,
    "forecast": forecast,
}
