"""Renders training events: a rich progress bar on stderr (loss, lr, units/s, ETA) and a
metrics table at each evaluation; the final figures as a table, or JSON on stdout."""

from __future__ import annotations

from typing import Any, Iterable

from rnncli.cli.common import print_json, progress_wanted, stderr_console


def train_cli(task: str, given: dict[str, Any], config) -> None:
    """The body of every `rnncli train TASK` command (cli/options.py builds its options)."""
    from rnncli.api import train_events

    meta, events = train_events(task, given, config)
    render_training(events, quiet=meta["quiet"], as_json=meta["json"])


def render_training(events: Iterable[Any], quiet: bool = False, as_json: bool = False) -> Any:
    """Consume the training generator; return its Finished event."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from rnncli.runtime import dist_env
    from rnncli.training import Evaluated, Finished, Notice, Started, StepDone

    quiet = quiet or not dist_env().is_main   # under torchrun, rank 0 alone talks
    as_json = as_json and dist_env().is_main
    console = stderr_console(quiet)
    show_bar = progress_wanted(quiet)
    progress = Progress(BarColumn(bar_width=20), TextColumn("{task.percentage:>3.0f}%"),
                        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("eta"),
                        TimeRemainingColumn(), console=console, disable=not show_bar, transient=False)
    finished = None
    unit = "tokens"
    with progress:
        task = progress.add_task("train", total=1000, status="starting")
        for event in events:
            if isinstance(event, Started):
                unit = event.unit
                resumed = f", resumed at step {event.start_step}" if event.resumed else ""
                ranks = f" x {event.world_size} processes" if event.world_size > 1 else ""
                limit = f", max {event.max_time:g} min" if event.max_time else ""
                console.print(f"rnncli: training on {event.device}{ranks}: {event.parameters:,} parameters, "
                              f"{event.steps_per_epoch:,} steps/epoch, {event.total_steps:,} steps planned"
                              f"{limit}{resumed}", soft_wrap=True)   # one line each, for logs
            elif isinstance(event, StepDone):
                status = (f"step {event.step} loss {event.loss:.3f} lr {event.lr:.1e} "
                          f"{event.units_per_s / 1000:,.1f}k {unit}/s")
                progress.update(task, completed=event.progress * 1000, status=status)
            elif isinstance(event, Evaluated):
                console.print(evaluation_table(event))
            elif isinstance(event, Notice):
                console.print(f"rnncli: {event.text}", soft_wrap=True)
            elif isinstance(event, Finished):
                finished = event
                progress.update(task, completed=1000, status=event.reason)
    if finished is not None:
        summary = {"reason": finished.reason, "steps": finished.step, "metric": finished.metric,
                   "best": finished.best_value, "best_step": finished.best_step,
                   "skipped_steps": finished.skipped_steps, "seconds": round(finished.elapsed, 2),
                   unit: finished.units}
        if as_json:
            print_json(summary)
        best = f"{finished.best_value:.4f}" if finished.best_value is not None else "n/a"
        console.print(f"rnncli: finished ({finished.reason}) after {finished.step} steps in "
                      f"{finished.elapsed:.1f}s; best {finished.metric} {best} at step {finished.best_step}"
                      + (f"; {finished.skipped_steps} non-finite steps skipped" if finished.skipped_steps else ""),
                      soft_wrap=True)
    return finished


def evaluation_table(event: Any):
    from rich.table import Table

    table = Table(title=f"eval: step {event.step}, epoch {event.epoch + 1}", title_justify="left",
                  show_edge=False, min_width=40)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in event.metrics.items():
        mark = " *" if name == event.metric and event.improved else ""
        table.add_row(name, f"{value:.4f}{mark}")
    table.caption = f"best {event.best_value:.4f} at step {event.best_step}"
    table.caption_justify = "left"
    return table
