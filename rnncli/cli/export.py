"""`rnncli export CKPT --format torchscript|onnx -o OUT [--check FILE]`: a standalone
artifact, checked against rnncli before it appears (rnncli/export/)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnncli.cli.common import CkptArg, JsonOpt, QuietOpt, print_json
from rnncli.cli.options import setting
from rnncli.config import DecodeSettings as D


def export_cli(
    checkpoint: CkptArg,
    fmt: Annotated[str, typer.Option("--format", help="torchscript (decoding included) or onnx.")] = "torchscript",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Artifact directory to write.",
                                                   show_default=False)] = None,
    check: Annotated[Optional[Path], typer.Option("--check", help="Data for the parity check (default: the "
                                                  "checkpoint's validation data; a forecaster's training file).",
                                                  show_default=False)] = None,
    check_lines: Annotated[Optional[int], typer.Option("--check-lines", min=1, help="Examples of the check data "
                                                       "to compare (default: 200; translate 100, lm 20; "
                                                       "forecast: 200 series).",
                                                       show_default=False)] = None,
    beam: setting(D, "beam", "--beam") = D.beam,
    length_penalty: setting(D, "length_penalty", "--length-penalty") = D.length_penalty,
    beam_stop: setting(D, "beam_stop", "--beam-stop") = D.beam_stop,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing artifact at OUT.")] = False,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    from rnncli.errors import UsageError
    from rnncli.export import export

    if output is None:
        raise UsageError("missing option -o/--output OUT (the artifact directory to write)")
    result = export(checkpoint, fmt, output, check, check_lines, overwrite,
                    decode=D(beam=beam, length_penalty=length_penalty, beam_stop=beam_stop))
    p = result.parity
    if not quiet:
        print(f"rnncli: parity on {p['items']:,} examples of {result.check_file}: {p['matched']:,}/{p['total']:,} "
              f"{p['units']} match ({100 * p['match_rate']:.2f}%); largest {p['diff_of']} difference "
              f"{p['max_diff']:.3g}; speed rnncli {p['rnncli_per_s']} vs {result.format} {p['exported_per_s']} "
              f"{p['speed_unit']}", file=sys.stderr, flush=True)
    if as_json:
        print_json({"out": str(result.out), "task": result.task, "format": result.format, "parity": p})
    else:
        print(result.out, flush=True)
