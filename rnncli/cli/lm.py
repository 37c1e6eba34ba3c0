"""`rnncli generate`, and how `rnncli eval` shows a language model's report."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer

from rnncli.cli.common import CkptArg, DeviceOpt, QuietOpt, message
from rnncli.cli.options import setting
from rnncli.config import GenerateSettings as G

OUTPUT_FORMATS = ("text", "jsonl")


def generate_cli(
    checkpoint: CkptArg,
    prompt: Annotated[str, typer.Option("--prompt", help="Text to continue; - reads one prompt per line from stdin.")] = "",
    max_tokens: setting(G, "max_tokens") = G.max_tokens,
    temperature: setting(G, "temperature") = G.temperature,
    top_k: setting(G, "top_k") = G.top_k,
    top_p: setting(G, "top_p") = G.top_p,
    num_samples: setting(G, "num_samples") = G.num_samples,
    seed: setting(G, "seed") = G.seed,
    batch_size: setting(G, "batch_size") = G.batch_size,
    output_format: Annotated[str, typer.Option("--output-format", help="text: the samples as text; jsonl: one JSON object per sample, with the seed that reproduces it.")] = "text",
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Stream one prompt's samples as they are produced; with --prompt -, complete each
    stdin line (stopping at the end of the line) and write one line per prompt and sample."""
    from rnncli.errors import UsageError

    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--output-format {output_format!r} is not one of: text, jsonl")
    settings = G(max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                 num_samples=num_samples, batch_size=batch_size, seed=seed)
    generator = load_generator(checkpoint, device)
    # Without --seed, a fresh one; jsonl records it, so any sample can be made again.
    rng, seed = generator.rng(settings.seed)
    record = {"seed": seed} if output_format == "jsonl" else None
    if prompt == "-":
        complete_lines(generator, settings, rng, quiet, record)
        return
    if generator.unknown_tokens(prompt):
        message(f"warning: {generator.unknown_tokens(prompt)} prompt token(s) unknown to the model's vocabulary", quiet)
    for index in range(settings.num_samples):
        if record is not None:
            sample = generator.sample(prompt, settings, rng)
            write_json({"prompt": prompt, "sample": index + 1, "text": sample.text, "tokens": sample.tokens, **record})
            continue
        sys.stdout.write(("\n\n" if index else "") + prompt)
        for piece in generator.stream(prompt, settings, rng):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        sys.stdout.flush()


def load_generator(checkpoint, device: str):
    from rnncli.api import load
    from rnncli.checkpoint import read_config

    read_config(checkpoint, "lm")   # a checkpoint of another task: say so before loading it
    return load(checkpoint, device)


def write_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def complete_lines(generator, settings: G, rng, quiet: bool, record: dict | None) -> None:
    """One output line per stdin line (and sample): the prompt and its continuation up to
    the first newline, or with `record` a JSON object per line and sample."""
    from rnncli.readers.text import iter_lines

    def prompts():
        for number, line in iter_lines("-"):
            if generator.unknown_tokens(line):
                message(f"warning: line {number}: {generator.unknown_tokens(line)} prompt token(s) unknown to the "
                        "model's vocabulary", quiet)
            yield number, line

    from rnncli.cli.progress import LineProgress, count_lines

    with LineProgress(quiet) as bar:
        bar.start("<stdin>", count_lines("-") if bar.shown else None)
        done = 0
        for number, index, prompt, sample in generator.complete_stream(prompts(), settings, rng):
            if record is None:
                sys.stdout.write(prompt + sample.text + "\n")
            else:
                write_json({"line": number, "prompt": prompt, "sample": index, "text": sample.text,
                            "tokens": sample.tokens, **record})
            sys.stdout.flush()
            if index == settings.num_samples and number > done:   # the line's last sample is out
                bar.advance(number - done)
                done = number


def warn(report: dict[str, Any], data: list[str], quiet: bool) -> None:
    if report["unknown_tokens"]:
        message(f"warning: {report['unknown_tokens']} token(s) of {data[0]} are unknown to the model", quiet)


def render_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    table = Table(title="language model", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("perplexity", "nats_per_token", "nats_per_char", "bits_per_char"):
        table.add_row(key, f"{report[key]:.4f}")
    table.add_row("tokens", f"{report['tokens']:,}")
    table.add_row("chars", f"{report['chars']:,}")
    console.print(table)
