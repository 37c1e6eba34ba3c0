"""`rnncli translate`, and how `rnncli eval` shows a translation report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer

from rnncli.cli.common import CkptArg, ContinueOpt, DeviceOpt, InputsArg, OutputDirOpt, OutputOpt, QuietOpt, message, stderr_console
from rnncli.cli.options import setting
from rnncli.cli.streams import output_stream
from rnncli.config import DecodeSettings as D

FILE_CHUNK = 2048   # lines of a file decoded (sorted by length) between two writes


def translate_cli(
    checkpoint: CkptArg,
    inputs: InputsArg = None,
    output: OutputOpt = None,
    output_dir: OutputDirOpt = None,
    resume: ContinueOpt = False,
    beam: setting(D, "beam") = D.beam,
    n_best: setting(D, "n_best") = D.n_best,
    length_penalty: setting(D, "length_penalty") = D.length_penalty,
    beam_stop: setting(D, "beam_stop") = D.beam_stop,
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
    from rnncli.cli.batch_io import RunOptions, plan_jobs, run_jobs, total
    from rnncli.errors import UsageError
    from rnncli.runtime import inference_group
    from rnncli.tasks.translate_output import OUTPUT_FORMATS

    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--output-format {output_format!r} is not one of: {', '.join(OUTPUT_FORMATS)}")
    decode = D(beam=beam, n_best=n_best, length_penalty=length_penalty, beam_stop=beam_stop, batch_size=batch_size,
               int8=int8, shortlist=shortlist, max_input_tokens=max_input_tokens)
    if n_best > 1 and output_format == "text":
        raise UsageError("--n-best above 1 needs --output-format jsonl (text output is one line per input)")
    jobs = plan_jobs(inputs, output, output_dir, resume)
    attention = show_attention or attention_out is not None
    with inference_group(device) as env:
        if attention and (len(jobs) > 1 or output_dir is not None or resume or env.distributed):
            raise UsageError("--show-attention/--attention-out work on one run of one input "
                             "(not with --output-dir, --continue or torchrun)")
        read_config(checkpoint, "translate")
        translator = load(checkpoint, device, int8=int8, shortlist=shortlist)
        options = RunOptions("translate", checkpoint, {**dataclasses.asdict(decode), "output_format": output_format},
                             resume=resume, quiet=quiet)
        with output_stream(attention_out, default=None) as attn_out:
            work = TranslateWork(translator, decode, output_format, attention, attn_out,
                                 stderr_console(quiet) if show_attention else None)
            run_jobs(work, jobs, options, env)
        split = total(translator.split_lines, env)
        if split and env.is_main:
            message(f"{split:,} line(s) longer than {translator.input_limit(decode):,} source tokens "
                    "were translated in pieces (--max-input-tokens)", quiet)


class TranslateWork:
    """Lines in, one output line each (batch_io.Work); attention records as they come."""

    def __init__(self, translator, decode: D, output_format: str, attention: bool, attn_out, console):
        self.translator, self.decode, self.output_format = translator, decode, output_format
        self.attention, self.attn_out, self.console = attention, attn_out, console

    def items(self, path: str) -> Iterator[tuple[int, tuple[int, str]]]:
        from rnncli.readers.text import iter_lines

        return ((number, (number, line)) for number, line in iter_lines(path))

    def chunk_size(self, path: str) -> int:
        """A file: chunks of many batches (decoding sorts each chunk by length, so it wants
        them large). stdin: a batch, cut early when no more input is waiting, so output
        flows while input still arrives."""
        return self.decode.batch_size if path == "-" else max(FILE_CHUNK, self.decode.batch_size)

    def render(self, items: list[tuple[int, str]]) -> str:
        hyps = self.translator.hypotheses([line for _, line in items], self.decode, self.attention)
        lines = []
        for (number, line), hyp in zip(items, hyps):
            lines.append(self.translator.output_line(hyp, self.output_format) + "\n")
            if self.attention and hyp and hyp[0].attention is not None:
                self.show(self.translator.attention_record(number, line, hyp[0]))
        return "".join(lines)

    def show(self, record: dict[str, Any]) -> None:
        if self.attn_out is not None:
            self.attn_out.write(json.dumps(record, ensure_ascii=False) + "\n")
        if self.console is not None:
            self.console.print(heatmap(record))

    def pass_over(self, items: list[Any]) -> None:
        """Translation keeps no state across lines."""


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
