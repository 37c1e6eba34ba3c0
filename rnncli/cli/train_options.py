"""The training options every `rnncli train <task>` shares, added by one decorator.

Every shared option defaults to None ("not given"), so tasks/common.py can tell an
explicit value from a default and layer: command line > --config file > task defaults.
"""

from __future__ import annotations

import functools
import inspect
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

P = inspect.Parameter


def opt(type_: Any, *names: str, help: str) -> Any:
    return Annotated[Optional[type_], typer.Option(*names, help=help, show_default=False)]


SHARED: dict[str, Any] = {
    # model
    "cell": opt(str, "--cell", help="Recurrent cell: lstm|gru|rnn-tanh|rnn-relu."),
    "layers": opt(int, "--layers", help="Recurrent layers."),
    "hidden": opt(int, "--hidden", help="Hidden units per layer and direction."),
    "embed": opt(int, "--embed", help="Embedding size."),
    "dropout": opt(float, "--dropout", help="Dropout on embeddings, between layers and before the output."),
    "bidirectional": opt(bool, "--bidirectional/--no-bidirectional", help="Bidirectional encoder (where the task allows)."),
    "layer_norm": opt(bool, "--layer-norm/--no-layer-norm", help="LayerNorm after each recurrent layer."),
    "tie_embeddings": opt(bool, "--tie-embeddings/--no-tie-embeddings", help="Share input embedding and output weights."),
    # tokenizer
    "tokenizer": opt(str, "--tokenizer", help="char|unigram|bpe|word."),
    "vocab_size": opt(int, "--vocab-size", help="Vocabulary size (sentencepiece target, or a cap for char/word)."),
    # optimisation
    "batch_size": opt(int, "--batch-size", help="Sequences per batch."),
    "lr": opt(float, "--lr", help="Peak learning rate."),
    "optimizer": opt(str, "--optimizer", help="adamw|sgd."),
    "weight_decay": opt(float, "--weight-decay", help="Decoupled weight decay (AdamW)."),
    "clip_norm": opt(float, "--clip-norm", help="Clip the gradient norm to this (0: off)."),
    "schedule": opt(str, "--schedule", help="cosine|inverse-sqrt|constant|plateau (after warmup)."),
    "warmup": opt(int, "--warmup", help="Warmup steps."),
    "epochs": opt(int, "--epochs", help="Passes over the training data."),
    "max_steps": opt(int, "--max-steps", help="Stop after this many steps."),
    "max_time": opt(float, "--max-time", help="Stop after this many minutes, keeping the best checkpoint."),
    "eval_every": opt(int, "--eval-every", help="Evaluate every N steps (default: each epoch)."),
    "patience": opt(int, "--patience", help="Stop after N evaluations without improvement."),
    "max_bad_steps": opt(int, "--max-bad-steps", help="Abort after N non-finite steps in a row."),
    "seed": opt(int, "--seed", help="Random seed (same seed, same run)."),
    "device": opt(str, "--device", help="auto|cpu|cuda|mps."),
    "precision": opt(str, "--precision", help="auto|fp32|bf16|fp16 (mixed precision on CUDA)."),
}
META: dict[str, tuple[Any, Any]] = {
    "resume": (Annotated[bool, typer.Option("--resume", help="Continue the run saved in --out exactly.")], False),
    "config": (Annotated[Optional[Path], typer.Option("--config", help="TOML file of option values.")], None),
    "quiet": (Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or messages.")], False),
    "json": (Annotated[bool, typer.Option("--json", help="Print the final figures as JSON on stdout.")], False),
}


def training_command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add SHARED and META options to a train command. `fn` gets them as `options` (dict)."""
    signature = inspect.signature(fn)
    hints = typing.get_type_hints(fn, include_extras=True)  # resolve postponed annotations
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in signature.parameters.values() if p.name != "options"]
    added = [P(name, P.KEYWORD_ONLY, default=None, annotation=annotation)
             for name, annotation in SHARED.items()]
    added += [P(name, P.KEYWORD_ONLY, default=default, annotation=annotation)
              for name, (annotation, default) in META.items()]
    own = [p.replace(kind=P.KEYWORD_ONLY) for p in own]

    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        options = {name: kwargs.pop(name) for name in list(SHARED) + list(META)}
        return fn(options=options, **kwargs)

    command.__signature__ = signature.replace(parameters=own + added)
    command.__annotations__ = {p.name: p.annotation for p in own + added}
    return command
