"""What every command shares: consoles, output streams, and shared option types.

Results go to stdout; messages and progress to stderr. Progress bars show only when
stderr is a terminal and --quiet is not given.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated, List, Optional

import typer

JsonOpt = Annotated[bool, typer.Option("--json", help="Print results as JSON on stdout.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages on stderr.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto|cpu|cuda|mps (auto: cuda, then mps, then cpu).")]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Sentences per batch.")]
InputArg = Annotated[str, typer.Argument(help="Input file, or - for stdin.", show_default=True)]
OutputOpt = Annotated[Optional[Path], typer.Option("--output", "-o", help="Output file (default: stdout).")]
CkptArg = Annotated[Path, typer.Argument(help="Checkpoint directory.", show_default=False)]


def stderr_console(quiet: bool = False):
    """A rich console on stderr; with quiet it swallows everything."""
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, highlight=False)


def stdout_console():
    from rich.console import Console

    return Console(highlight=False)


def progress_wanted(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def message(text: str, quiet: bool = False) -> None:
    """One line of information on stderr (never stdout: pipelines stay clean)."""
    if not quiet:
        print(f"rnncli: {text}", file=sys.stderr, flush=True)


def print_json(data) -> None:
    """Strict JSON on stdout: a figure that does not exist (NaN, e.g. the MASE of a series
    without a seasonal naive error to scale by) is null, since `NaN` is not JSON and strict
    parsers (jq, JavaScript, Go) reject the whole report."""
    import json

    sys.stdout.write(json.dumps(finite_or_null(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    sys.stdout.flush()


def finite_or_null(value):
    """value with every non-finite float (NaN, ±inf) replaced by None, recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


InputsArg = Annotated[Optional[List[str]], typer.Argument(
    help="Input files, or - for stdin (the default); several need --output-dir.", show_default=False)]
OutputDirOpt = Annotated[Optional[Path], typer.Option(
    "--output-dir", help="Write one output per input file here, under the input's name.", show_default=False)]
ContinueOpt = Annotated[bool, typer.Option(
    "--continue", help="Pick up the -o/--output-dir output of a stopped run after its last finished line.")]
