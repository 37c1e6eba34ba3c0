"""Per-task glue: data -> model -> loss -> predict -> evaluate. Never prints.

TASKS is the one table of tasks: `train`, `eval`, `info` and the Python API all use it.
Adding a task: its settings and spec in tasks/settings.py, a task module (a `Task`
subclass, see tasks/base.py, exported as `TASK`), a model module, a CLI module for its
inference command, and one line here.
"""

from __future__ import annotations

import importlib

from rnncli.errors import UsageError
from rnncli.tasks.settings import CLASSIFY, FORECAST, LM, TAG, TRANSLATE, TaskSpec

TASKS: dict[str, TaskSpec] = {
    "lm": LM,
    "classify": CLASSIFY,
    "tag": TAG,
    "translate": TRANSLATE,
    "forecast": FORECAST,
}


def spec(name: str) -> TaskSpec:
    if name not in TASKS:
        raise UsageError(f"unknown task {name!r}; the tasks are: {', '.join(TASKS)}")
    return TASKS[name]


def task_class(name: str):
    """The task's implementation (its module is imported here, on first use: torch is slow
    to import and `--help` needs none of it)."""
    return importlib.import_module(spec(name).module).TASK
