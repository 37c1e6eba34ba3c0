"""The `rnncli` command: a Typer app whose commands live one per module.

`main()` is the console-script entry point. It owns the error contract: RnncliError and
usage errors become one line on stderr with their exit code (2 for bad input or usage);
anything else is an internal error with exit 1; a traceback only with --debug.
Modules imported here must not import torch at import time, so `rnncli --help` is fast.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import sys
from typing import Annotated, Optional

import typer

from rnncli.version import __version__
from rnncli.cli import classify, data, evaluate, export, forecast, info, lm, tag, train_view, translate
from rnncli.cli.examples import EXAMPLES
from rnncli.cli.options import train_command
from rnncli.tasks import TASKS

app = typer.Typer(name="rnncli", no_args_is_help=True, add_completion=True,
                  pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Recurrent networks from the command line: generation, classification, "
                       "tagging, translation and forecasting.\n\nAdd --debug anywhere for a traceback on errors.")
train_app = typer.Typer(no_args_is_help=True, help="Train a model; writes a checkpoint directory.")
app.add_typer(train_app, name="train")
app.add_typer(data.data_app, name="data")   # `rnncli data check`



THREADS = inspect.Parameter(
    "threads", inspect.Parameter.KEYWORD_ONLY, default=None,
    annotation=Annotated[Optional[int], typer.Option(
        "--threads", show_default=False, metavar="N",
        help="CPU threads for torch (default: the cores other processes leave free, from the "
             "CPU affinity and the load; OMP_NUM_THREADS if set).")])


def closed_pipe_is_done(command):
    """Every command goes through here, so what they all share is written once:
    - `--threads N`, added to the command's signature (so each --help shows it) and set
      in torch before the command's body runs (rnncli/threads.py: command_threads);
    - a reader that stops early (`| head`) ends the command quietly with exit 0, caught
      here, before click turns a broken pipe into exit 1."""
    @functools.wraps(command)
    def guarded(*args, threads: int | None = None, **kwargs):
        from rnncli.threads import command_threads

        try:
            with command_threads(threads) as choice:
                note = choice.note()
                if note and not kwargs.get("quiet") and os.environ.get("RANK", "0") == "0":   # torchrun: rank 0
                    print(f"rnncli: {note}", file=sys.stderr, flush=True)
                return command(*args, **kwargs)
        except BrokenPipeError:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())   # what is still buffered goes nowhere
            raise typer.Exit(0) from None

    signature = inspect.signature(command, eval_str=True)
    parameters = list(signature.parameters.values())
    at = next((i for i, p in enumerate(parameters) if p.kind is p.VAR_KEYWORD), len(parameters))
    guarded.__signature__ = signature.replace(parameters=[*parameters[:at], THREADS, *parameters[at:]])
    guarded.__annotations__ = {**command.__annotations__, "threads": THREADS.annotation}   # a copy
    return guarded


def guard_commands(group: typer.Typer) -> None:
    """The commands a sub-app (`rnncli data ...`) registered itself get the same wrapper."""
    for info in group.registered_commands:
        info.callback = closed_pipe_is_done(info.callback)


guard_commands(data.data_app)
# `train TASK` for every task of the table; its options come from the task's settings.
for name, task_spec in TASKS.items():
    train_app.command(name, help=task_spec.help, epilog=EXAMPLES.get(f"train {name}"))(closed_pipe_is_done(train_command(task_spec, train_view.train_cli)))
# The inference and inspection commands, listed by hand.
COMMANDS = [
    ("generate", "Sample text from a language model.", lm.generate_cli),
    ("classify", "Classify lines of text, TSV, CSV, JSONL or fastText with a trained classifier.", classify.classify_cli),
    ("tag", "Tag text or CoNLL input with a trained tagger.", tag.tag_cli),
    ("translate", "Translate lines with a trained encoder-decoder (greedy or beam search).", translate.translate_cli),
    ("forecast", "Forecast time series with a trained forecaster (quantile intervals).", forecast.forecast_cli),
    ("eval", "Score a checkpoint on data, or score output files.", evaluate.eval_cli),
    ("info", "Describe a checkpoint.", info.info_cli),
    ("export", "Export a model as a standalone TorchScript or ONNX artifact, checked against rnncli.", export.export_cli),
]
for name, help_text, function in COMMANDS:
    app.command(name, help=help_text, epilog=EXAMPLES.get(name))(closed_pipe_is_done(function))


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"rnncli {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: bool = typer.Option(False, "--version", callback=version_callback, is_eager=True,
                                      help="Show the version and exit.")) -> None:
    """Recurrent-network NLP from the command line."""


def main(argv: list[str] | None = None) -> None:
    from rnncli.memory import keep_freed_memory

    # Training and decoding allocate the same large tensors every step; a command is one
    # short-lived process, so it keeps freed memory for reuse (see rnncli/memory.py).
    keep_freed_memory()
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("RNNCLI_DEBUG") == "1"
    args = [a for a in args if a != "--debug"]
    sys.exit(run(args, debug))


def run(args: list[str], debug: bool) -> int:
    with terminate_as_exception():
        return run_command(args, debug)


@contextlib.contextmanager
def terminate_as_exception():
    """SIGTERM raises Interrupted (exit 143) instead of killing the process at once, so an
    inference command keeps the lines it has written (stdout is flushed on the way out)
    and an `-o` file in progress keeps its finished lines in OUT.partial (see --continue). Training
    installs its own handler for the length of the loop (signals.py: save, then stop)."""
    import signal
    import threading

    from rnncli.errors import Interrupted

    def terminate(signum, _frame):
        raise Interrupted(signum, "terminated by SIGTERM; the output written so far is kept")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_command(args: list[str], debug: bool) -> int:
    from rnncli.errors import RnncliError

    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="rnncli", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 130
    except typer.TyperException as exc:  # typer's usage errors (bad option, missing argument)
        ctx = getattr(exc, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        hint = " (see --help)" if getattr(exc, "exit_code", 1) == 2 else ""
        fail(f"{where}{exc.format_message()}{hint}", debug)
        return getattr(exc, "exit_code", 2)
    except RnncliError as exc:
        fail(str(exc), debug)
        return exc.exit_code
    except KeyboardInterrupt:
        fail("interrupted", debug)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); stop quietly like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", debug)
        return 1


def fail(text: str, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()
    print(f"rnncli: error: {text}", file=sys.stderr, flush=True)
