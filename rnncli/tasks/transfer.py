"""Transfer from a language model (ULMFiT, Howard & Ruder 2018): `train classify` and
`train tag` with `--init-from LM_CKPT` start their embedding and RNN encoder from a model
trained by `rnncli train lm` on unlabelled text.

- Settings (fresh runs): the LM decides the architecture of what is copied (--cell,
  --hidden, --layers, --embed, --layer-norm) and the tokenizer; an option the user set to
  something else is a ConfigError naming it. The checkpoint's config then records the
  LM's values, so resume and `info` see what was trained.
- Weights: the embedding and each recurrent layer are copied by name (RNNStack names its
  parameters the same in every model). Where the new encoder reads more inputs than the
  LM's (a bidirectional layer above the first reads both directions, a tagger's first
  layer reads character features too), the LM's weights fill the leading columns and the
  extra columns start at zero, so the copied forward direction computes at first exactly
  what the LM computed. Backward directions start fresh: an LM reads left to right only.
- Layer groups (optim.LayerPlan): embedding, each recurrent layer bottom up, then the
  task's head (pooling, output, CRF, character features: everything new).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnncli.checkpoint import read_config
from rnncli.config import Settings
from rnncli.errors import CheckpointError, ConfigError
from rnncli.optim import LayerPlan

# What the LM decides, as (option name, the LM config.json's "model" key).
ARCHITECTURE = (("cell", "cell"), ("hidden", "hidden"), ("layers", "layers"), ("embed", "embed"),
                ("layer_norm", "layer_norm"))
RNN_LAYER = re.compile(r"^rnn\.(?:rnn\.\w+?_l(\d+)(?:_reverse)?$|(?:layers|norms)\.(\d+)\.)")


def lm_config(path: str) -> dict[str, Any]:
    """config.json of the LM checkpoint at `path`; anything else is a CheckpointError
    naming --init-from."""
    try:
        return read_config(path, "lm")
    except CheckpointError as exc:
        raise CheckpointError(f"--init-from: {exc}") from None


def adopt_lm_settings(settings: Settings, path: str, given: frozenset[str],
                      decided: dict[str, Any]) -> Settings:
    """`settings` with the LM's architecture and `decided` (more option -> value pairs the
    LM fixes, e.g. the tokenizer); an option given explicitly with another value is an
    error: the copied weights could not fit it."""
    model = lm_config(path).get("model") or {}
    values = {name: model.get(key) for name, key in ARCHITECTURE} | decided
    for name, value in values.items():
        if value is None and name not in decided:
            raise CheckpointError(f"--init-from: {Path(path) / 'config.json'} has no model setting {name!r}")
        mine = getattr(settings, name)
        if name in given and mine != value:
            option = "--" + name.replace("_", "-")
            shown = option if isinstance(mine, bool) else f"{option} {mine}"
            raise ConfigError(f"{shown} conflicts with --init-from {path}, whose language model has "
                              f"{name.replace('_', '-')} {value}; drop {option} or match it")
    return dataclasses.replace(settings, **values)


def lm_options(path: str) -> dict[str, Any]:
    """The options the LM was trained with (its tokenizer kind and size among them)."""
    return lm_config(path).get("options") or {}


def lm_tokenizer(path: str):
    from rnncli.tasks.base import tokenizer_dir
    from rnncli.tokenizer import load_tokenizer

    try:
        return load_tokenizer(tokenizer_dir(Path(path)))
    except CheckpointError as exc:
        raise CheckpointError(f"--init-from: {exc}") from None


def load_lm(path: str) -> nn.Module:
    """The LM's network with its best weights, on the CPU (the global RNG untouched: the
    new model's own initialisation must not depend on whether an LM was loaded)."""
    from rnncli.tasks.lm import LMTask

    with torch.random.fork_rng(devices=[]):
        try:
            _, _, model, _ = LMTask.load_parts(path, "cpu")
        except CheckpointError as exc:
            raise CheckpointError(f"--init-from: {exc}") from None
    return model


@torch.no_grad()
def copy_encoder(model: nn.Module, lm: nn.Module) -> int:
    """Copy the LM's embedding and recurrent layers into `model` (see the module
    docstring); returns how many tensors were copied."""
    if model.embedding.weight.shape != lm.embedding.weight.shape:
        raise ConfigError(f"--init-from: the embedding is {tuple(model.embedding.weight.shape)}, the language "
                          f"model's {tuple(lm.embedding.weight.shape)} (its tokenizer must be used)")
    model.embedding.weight.copy_(lm.embedding.weight)
    if model.embedding.padding_idx is not None:   # padding reads as zeros in the new model, as before
        model.embedding.weight[model.embedding.padding_idx].zero_()
    targets = dict(model.rnn.named_parameters())
    copied = 1
    for name, source in lm.rnn.named_parameters():
        target = targets.get(name)
        if target is None or target.dim() != source.dim() or any(t < s for t, s in zip(target.shape, source.shape)):
            raise ConfigError(f"--init-from: the language model's rnn.{name} {tuple(source.shape)} does not fit "
                              f"the new encoder ({None if target is None else tuple(target.shape)})")
        if name.rpartition(".")[2].startswith("weight_ih"):
            target[:, source.size(1):].zero_()   # inputs the LM never had start switched off
        target[tuple(slice(0, n) for n in source.shape)] = source
        copied += 1
    return copied


def layer_groups(model: nn.Module) -> tuple[tuple[str, ...], ...]:
    """Parameter names per group: embedding, recurrent layer 0, 1, ..., then the head."""
    layers: dict[int, list[str]] = {}
    embedding, head = [], []
    for name, _ in model.named_parameters():
        match = RNN_LAYER.match(name)
        if name.startswith("embedding."):
            embedding.append(name)
        elif match:
            layers.setdefault(int(match.group(1) or match.group(2)), []).append(name)
        else:
            head.append(name)
    return (tuple(embedding), *(tuple(layers[k]) for k in sorted(layers)), tuple(head))


def layer_plan(model: nn.Module, train) -> LayerPlan | None:
    """The plan for --unfreeze-every / --lr-layer-decay; None when both are off (then the
    optimizer and the loop run exactly as without them)."""
    if not train.unfreeze_every and train.lr_layer_decay == 1.0:
        return None
    return LayerPlan(layer_groups(model), train.lr_layer_decay, train.unfreeze_every)


def describe_init(path: str | None) -> dict[str, Any]:
    """config.json's record of the LM a model started from ({} without --init-from)."""
    if path is None:
        return {}
    config = lm_config(path)
    return {"init_from": {"path": str(Path(path).resolve()), "run_id": config.get("run_id"),
                          "tokenizer": config.get("tokenizer")}}
