"""`rnncli train lm`, `rnncli generate`, and the language-model part of `rnncli eval`."""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from rnncli.cli.common import CkptArg, DeviceOpt, QuietOpt, message
from rnncli.cli.train_options import training_command


@training_command
def train_lm_cli(
    train: Annotated[Path, typer.Option("--train", help="Training text (UTF-8).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint directory to write.", show_default=False)],
    valid: Annotated[Optional[Path], typer.Option("--valid", help="Validation text (default: last 10% of --train).")] = None,
    seq_len: Annotated[Optional[int], typer.Option("--seq-len", help="Tokens per training window (default 128).", show_default=False)] = None,
    options: dict = None,
) -> None:
    from rnncli.cli.train_view import render_training
    from rnncli.tasks.lm import train_lm

    events = train_lm({**options, "seq_len": seq_len}, train, valid, out, options["resume"])
    render_training(events, quiet=options["quiet"], as_json=options["json"])


def generate_cli(
    checkpoint: CkptArg,
    prompt: Annotated[str, typer.Option("--prompt", help="Text to continue; - reads one prompt per line from stdin.")] = "",
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Tokens to generate per sample.")] = 200,
    temperature: Annotated[float, typer.Option("--temperature", min=0.0, help="Sampling temperature (0: greedy).")] = 0.8,
    top_k: Annotated[int, typer.Option("--top-k", min=0, help="Sample from the k most likely tokens (0: all).")] = 0,
    top_p: Annotated[float, typer.Option("--top-p", min=0.0, max=1.0, help="Nucleus sampling mass (1: off).")] = 1.0,
    num_samples: Annotated[int, typer.Option("--num-samples", min=1, help="Samples per prompt.")] = 1,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Random seed: the same seed gives the same text.")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Prompts sampled together (with --prompt -).")] = 64,
    output_format: Annotated[str, typer.Option("--output-format", help="text: the samples as text; jsonl: one JSON object per sample, with the seed that reproduces it.")] = "text",
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Stream one prompt's samples as they are produced; with --prompt -, complete each
    stdin line (stopping at the end of the line) and write one line per prompt and sample."""
    import torch

    from rnncli.errors import UsageError
    from rnncli.tasks.lm import load_lm

    if output_format not in ("text", "jsonl"):
        raise UsageError(f"--output-format {output_format!r} is not one of: text, jsonl")
    model, tokenizer, _, dev = load_lm(checkpoint, device)
    generator = torch.Generator(device=dev)
    # Without --seed, a fresh one; jsonl records it, so any sample can be made again.
    seed = seed if seed is not None else secrets.randbits(63)
    generator.manual_seed(seed)
    settings = dict(max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                    generator=generator, device=dev)
    record = {"seed": seed} if output_format == "jsonl" else None
    if prompt == "-":
        complete_lines(model, tokenizer, num_samples, batch_size, settings, quiet, record)
    elif record is not None:
        write_samples(model, tokenizer, prompt, num_samples, settings, quiet, record)
    else:
        stream_samples(model, tokenizer, prompt, num_samples, settings, quiet)


def prompt_ids(tokenizer, prompt: str, quiet: bool) -> list[int]:
    """The prompt's ids; an empty prompt starts from <s>, as the training text did."""
    ids = tokenizer.encode(prompt)
    unknown = sum(1 for i in ids if i == tokenizer.unk_id)
    if unknown:
        message(f"warning: {unknown} prompt token(s) unknown to the model's vocabulary", quiet)
    return ids or [tokenizer.bos_id]


def stream_samples(model, tokenizer, prompt: str, num_samples: int, settings: dict, quiet: bool) -> None:
    """Samples of one prompt, written to stdout piece by piece; a blank line between samples."""
    from rnncli.decoding.sampling import sample

    for index in range(num_samples):
        if index:
            sys.stdout.write("\n\n")
        sys.stdout.write(prompt)
        ids: list[int] = []
        shown = ""
        for next_ids in sample(model, [prompt_ids(tokenizer, prompt, quiet or index > 0)], **settings):
            ids.append(int(next_ids[0]))
            text = tokenizer.decode(ids)
            if text.startswith(shown) and not text.endswith("\ufffd"):  # hold back partial UTF-8
                sys.stdout.write(text[len(shown):])
                sys.stdout.flush()
                shown = text
        sys.stdout.write(tokenizer.decode(ids)[len(shown):] + "\n")
        sys.stdout.flush()


def write_samples(model, tokenizer, prompt: str, num_samples: int, settings: dict, quiet: bool,
                  record: dict) -> None:
    """--output-format jsonl: one JSON object per sample of one prompt, written when done."""
    from rnncli.decoding.sampling import sample

    for index in range(num_samples):
        ids = [int(next_ids[0]) for next_ids in
               sample(model, [prompt_ids(tokenizer, prompt, quiet or index > 0)], **settings)]
        write_json({"prompt": prompt, "sample": index + 1, "text": tokenizer.decode(ids),
                    "tokens": len(ids), **record})


def write_json(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def complete_lines(model, tokenizer, num_samples: int, batch_size: int, settings: dict,
                   quiet: bool, record: dict | None = None) -> None:
    """One output line per stdin line (and sample): the prompt and its continuation up to
    the first newline (or, with `record`, a JSON object per line and sample). Prompts are
    sampled in batches; output keeps input order."""
    from rnncli.readers.text import iter_lines

    pending: list[tuple[int, int, str]] = []    # (line number, sample, prompt)
    for number, line in iter_lines("-"):
        pending.extend((number, index + 1, line) for index in range(num_samples))
        if len(pending) >= batch_size:
            write_completions(model, tokenizer, pending, settings, quiet, record)
            pending = []
    if pending:
        write_completions(model, tokenizer, pending, settings, quiet, record)


def write_completions(model, tokenizer, pending: list[tuple[int, int, str]], settings: dict, quiet: bool,
                      record: dict | None) -> None:
    from rnncli.decoding.sampling import sample

    prompts = [prompt for _, _, prompt in pending]
    generated: list[list[int]] = [[] for _ in prompts]
    done = [False] * len(prompts)
    newline = set(tokenizer.encode("\n")) - {tokenizer.unk_id}
    for next_ids in sample(model, [prompt_ids(tokenizer, p, quiet) for p in prompts], **settings):
        for row, token in enumerate(next_ids.tolist()):
            if not done[row]:
                if token in newline or token == tokenizer.eos_id:
                    done[row] = True
                else:
                    generated[row].append(token)
        if all(done):
            break
    for (number, index, prompt), ids in zip(pending, generated):
        text = tokenizer.decode(ids).split("\n")[0]
        if record is None:
            sys.stdout.write(prompt + text + "\n")
        else:
            write_json({"line": number, "prompt": prompt, "sample": index, "text": text, "tokens": len(ids),
                        **record})
    sys.stdout.flush()


def evaluate_checkpoint(checkpoint: Path, data: list[str], opts) -> dict[str, Any]:
    from rnncli.errors import UsageError
    from rnncli.tasks.lm import evaluate_lm

    if len(data) != 1:
        raise UsageError("a language model is evaluated on one text file: rnncli eval CKPT FILE")
    report = evaluate_lm(checkpoint, Path(data[0]), opts.device)
    if report["unknown_tokens"]:
        message(f"warning: {report['unknown_tokens']} token(s) of {data[0]} are unknown to the model", opts.quiet)
    return report


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
