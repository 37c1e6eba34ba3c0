"""`rnncli translate`, and how `rnncli eval` shows a translation report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer

from rnncli.cli.common import CkptArg, DeviceOpt, InputArg, OutputOpt, QuietOpt, message, stderr_console
from rnncli.cli.options import setting
from rnncli.cli.streams import chunked, output_stream
from rnncli.config import DecodeSettings as D

FILE_CHUNK = 2048   # lines of a file decoded (sorted by length) between two writes


def translate_cli(
    checkpoint: CkptArg,
    input: InputArg = "-",
    output: OutputOpt = None,
    beam: setting(D, "beam") = D.beam,
    n_best: setting(D, "n_best") = D.n_best,
    length_penalty: setting(D, "length_penalty") = D.length_penalty,
    max_input_tokens: setting(D, "max_input_tokens") = D.max_input_tokens,
    batch_size: setting(D, "batch_size") = D.batch_size,
    output_format: Annotated[str, typer.Option("--output-format", help="text: one translation per line; jsonl: n-best with scores.")] = "text",
    show_attention: Annotated[bool, typer.Option("--show-attention", help="Draw each sentence's attention as a heatmap on stderr.")] = False,
    attention_out: Annotated[Optional[Path], typer.Option("--attention-out", help="Write attention matrices to this JSONL file.")] = None,
    device: DeviceOpt = "auto",
    int8: setting(D, "int8", "--int8") = D.int8,
    shortlist: setting(D, "shortlist", "--shortlist") = D.shortlist,
    quiet: QuietOpt = False,
) -> None:
    """Translate INPUT line by line: one output line per input line, in order."""
    from rnncli.api import load
    from rnncli.checkpoint import read_config
    from rnncli.errors import UsageError
    from rnncli.tasks.translate_output import OUTPUT_FORMATS

    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--output-format {output_format!r} is not one of: {', '.join(OUTPUT_FORMATS)}")
    decode = D(beam=beam, n_best=n_best, length_penalty=length_penalty, batch_size=batch_size,
               int8=int8, shortlist=shortlist, max_input_tokens=max_input_tokens)
    if n_best > 1 and output_format == "text":
        raise UsageError("--n-best above 1 needs --output-format jsonl (text output is one line per input)")
    read_config(checkpoint, "translate")
    translator = load(checkpoint, device, int8=int8, shortlist=shortlist)
    attention = show_attention or attention_out is not None
    console = stderr_console(quiet)
    first_line = 1
    with output_stream(output) as out, output_stream(attention_out, default=None) as attn_out:
        for chunk in read_chunks(input, batch_size):
            hyps = translator.hypotheses(chunk, decode, attention)
            for offset, (line, hyp) in enumerate(zip(chunk, hyps)):
                out.write(translator.output_line(hyp, output_format) + "\n")
                if hyp and attention and hyp[0].attention is not None:
                    record = translator.attention_record(first_line + offset, line, hyp[0])
                    if attn_out is not None:
                        attn_out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    if show_attention:
                        console.print(heatmap(record))
            out.flush()
            first_line += len(chunk)
    if translator.split_lines:
        message(f"{translator.split_lines:,} line(s) longer than {translator.input_limit(decode):,} source tokens "
                "were translated in pieces (--max-input-tokens)", quiet)


def read_chunks(input: str, batch_size: int) -> Iterator[list[str]]:
    """A file: chunks of many batches (decoding sorts each chunk by length, so it wants
    them large; output is written and flushed after each, so a stop keeps what is done).
    stdin: batches of up to --batch-size lines, cut early when no more input is waiting,
    so output flows while input still arrives."""
    from rnncli.readers.text import STDIN, iter_lines

    lines = (line for _, line in iter_lines(input))
    if input != STDIN:
        yield from chunked(lines, max(FILE_CHUNK, batch_size), from_stdin=False)
        return
    yield from chunked(lines, batch_size, from_stdin=True)


def heatmap(record: dict[str, Any]):
    from rnncli.cli.attention_view import attention_heatmap

    return attention_heatmap(record["source"], record["target"], record["weights"],
                             title=f"line {record['line']}")


def render_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    table = Table(title="translation", title_justify="left")
    table.add_column("metric")
    table.add_column("score", justify="right")
    table.add_column("signature")
    ci = report.get("bleu_ci")
    bleu = f"{report['bleu']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
    table.add_row("BLEU", bleu, report["signatures"]["bleu"])
    table.add_row("chrF", f"{report['chrf']:.2f}", report["signatures"]["chrf"])
    table.add_row("TER", f"{report['ter']:.2f}", report["signatures"]["ter"])
    details = report["bleu_details"]
    table.caption = (f"{report['sentences']:,} sentences; BLEU 95% CI by bootstrap; precisions "
                     + "/".join(f"{p:.1f}" for p in details["precisions"])
                     + f", BP {details['bp']:.3f}, hyp/ref length {details['sys_len']:,}/{details['ref_len']:,}")
    console.print(table)


def warn(report: dict[str, Any], data: list[str], quiet: bool) -> None:
    """Nothing in this task's report calls for a warning."""
