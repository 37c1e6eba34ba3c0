"""Writing the model file(s) of an artifact: one TorchScript module, or ONNX graphs.

    torchscript   model.pt: the whole prediction (decoding included)
    onnx          classify, tag: model.onnx (probabilities; tag: emissions, with its
                  Viterbi tables in crf.json); translate: encoder.onnx + step.onnx;
                  lm: step.onnx (prompt or one token -> last logits and state)

Each writer returns the manifest's "files", "inputs" and "outputs" entries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from rnncli.errors import UsageError

OPSET = 17
INSTALL_HINT = "pip install 'rnncli[export]'"


def require_onnx() -> dict[str, str]:
    """Versions of onnx and onnxruntime; a UsageError naming the extra when either is missing."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise UsageError(f"--format onnx needs onnx and onnxruntime ({exc.name} is missing): "
                         f"{INSTALL_HINT}") from None
    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "opset": str(OPSET)}


def wrapper_options(task: str, predictor) -> dict[str, Any]:
    """Settings of the predictor that the exported module must apply too."""
    return {"temperature": float(getattr(predictor, "temperature", 1.0))} if task == "classify" else {}


def scripted_module(task: str, model, options: dict[str, Any]) -> torch.nn.Module:
    from rnncli.export.beam import ScriptTranslator
    from rnncli.export.scripted import ScriptClassifier, ScriptLM, ScriptTagger

    wrappers = {"classify": ScriptClassifier, "tag": ScriptTagger, "translate": ScriptTranslator, "lm": ScriptLM}
    return torch.jit.script(wrappers[task](model, **options).eval())


SCRIPT_SIGNATURES = {
    "classify": (["ids (B, T) int64", "lengths (B,) int64"], ["probabilities (B, C) float32"]),
    "tag": (["words (B, T)", "lengths (B,)", "chars (U, C)", "char_lengths (U,)", "char_index (B, T)",
             "constrained bool"], ["tags (B, T) int64", "emissions (B, T, L) float32"]),
    "translate": (["src (B, S) int64 (ids + </s>)", "src_lengths (B,)", "beam int", "n_best int",
                   "length_penalty float", "max_ratio float", "max_extra int",
                   "exact bool (beam_stop exact, else best)"],
                  ["tokens (B, n_best, T)", "lengths (B, n_best) (EOS included)", "log_probs (B, n_best)",
                   "real (B, n_best) bool"]),
    "lm": (["ids (B, T) int64", "lengths (B,)", "max_tokens int", "temperature float", "top_k int",
            "top_p float", "seed int"], ["ids (B, max_tokens) int64; method next_probs(ids, lengths) -> (B, V)",
                                    "method log_probs(ids, h, c) -> log-probabilities (B, T, V), h, c"]),
}


def write_torchscript(task: str, model, directory: Path, options: dict[str, Any]) -> dict[str, Any]:
    scripted_module(task, model, options).save(str(directory / "model.pt"))
    inputs, outputs = SCRIPT_SIGNATURES[task]
    return {"files": {"module": "model.pt"}, "inputs": inputs, "outputs": outputs}


def export_graph(module, args: tuple, path: Path, inputs: list[str], outputs: list[str],
                 dynamic: dict[str, dict[int, str]]) -> None:
    """The TorchScript-based exporter: it maps packed RNNs to ONNX RNN ops with lengths,
    which the dynamo exporter does not."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, str(path), input_names=inputs, output_names=outputs,
                          dynamic_axes=dynamic, opset_version=OPSET, dynamo=False)


def write_onnx(task: str, model, directory: Path, options: dict[str, Any]) -> dict[str, Any]:
    writer = {"classify": onnx_classify, "tag": onnx_tag, "translate": onnx_translate, "lm": onnx_lm}[task]
    graphs, inputs, outputs = writer(model, directory, **options)
    files: dict[str, Any] = {"graphs": graphs}
    if task == "tag":
        files["decoding"] = "crf.json"
    return {"files": files, "inputs": inputs, "outputs": outputs}


def onnx_classify(model, directory: Path, temperature: float = 1.0):
    from rnncli.export.scripted import ScriptClassifier

    ids, lengths = torch.tensor([[4, 5, 6], [4, 5, 0]]), torch.tensor([3, 2])
    export_graph(ScriptClassifier(model, always_pack=True, temperature=temperature), (ids, lengths), directory / "model.onnx",
                 ["ids", "lengths"], ["probabilities"], {"ids": {0: "B", 1: "T"}, "lengths": {0: "B"},
                                                          "probabilities": {0: "B"}})
    return {"model": "model.onnx"}, ["ids (B, T) int64", "lengths (B,) int64"], ["probabilities (B, C)"]


def onnx_tag(model, directory: Path):
    from rnncli.export.scripted import TagEmissions, decoding_tables

    words, lengths = torch.tensor([[4, 5, 6], [4, 5, 0]]), torch.tensor([3, 2])
    chars, char_lengths = torch.tensor([[0, 0], [4, 5], [5, 0], [6, 4]]), torch.tensor([1, 2, 1, 2])
    index = torch.tensor([[1, 2, 3], [1, 2, 0]])
    names = ["words", "lengths", "chars", "char_lengths", "char_index"]
    dynamic = {"words": {0: "B", 1: "T"}, "lengths": {0: "B"}, "chars": {0: "U", 1: "C"},
               "char_lengths": {0: "U"}, "char_index": {0: "B", 1: "T"}, "emissions": {0: "B", 1: "T"}}
    export_graph(TagEmissions(model), (words, lengths, chars, char_lengths, index), directory / "model.onnx",
                 names, ["emissions"], dynamic)
    tables = {name: value.tolist() for name, value in decoding_tables(model).items()}
    (directory / "crf.json").write_text(json.dumps(tables), encoding="utf-8")
    return {"model": "model.onnx"}, [f"{n} int64" for n in names], ["emissions (B, T, L) float32"]


def onnx_translate(model, directory: Path):
    from rnncli.export.beam import EncoderGraph, StepGraph

    lstm = model.config.cell == "lstm"
    state = ["h", "c"] if lstm else ["h"]
    src, src_lengths = torch.tensor([[4, 5, 3], [4, 3, 0]]), torch.tensor([3, 2])
    export_graph(EncoderGraph(model), (src, src_lengths), directory / "encoder.onnx", ["src", "src_lengths"],
                 [*state, "memory", "keys"], {"src": {0: "B", 1: "S"}, "src_lengths": {0: "B"},
                                              **{s: {1: "B"} for s in state}, "memory": {0: "B", 1: "S"},
                                              "keys": {0: "B", 1: "S"}})
    with torch.no_grad():
        encoded = EncoderGraph(model)(src, src_lengths)
    rows = torch.tensor([4, 5, 6, 7])
    states = tuple(s.repeat_interleave(2, dim=1) for s in encoded[: len(state)])
    mask = torch.tensor([[True, True, True], [True, True, False]])
    step_inputs = ["prev", *state, "memory", "keys", "mask"]
    export_graph(StepGraph(model), (rows, *states, encoded[-2], encoded[-1], mask), directory / "step.onnx",
                 step_inputs, ["log_probs", *[f"{s}_out" for s in state]],
                 {"prev": {0: "N"}, **{s: {1: "N"} for s in state}, "memory": {0: "B", 1: "S"},
                  "keys": {0: "B", 1: "S"}, "mask": {0: "B", 1: "S"}, "log_probs": {0: "N"},
                  **{f"{s}_out": {1: "N"} for s in state}})
    return ({"encoder": "encoder.onnx", "step": "step.onnx"},
            ["encoder: src (B, S) int64 (ids + </s>), src_lengths (B,)",
             f"step: prev (N,) int64, {', '.join(state)} (L, N, H), memory (B, S, M), keys (B, S, K), mask (B, S) bool"],
            [f"encoder: {', '.join(state)} (L, B, H), memory, keys", f"step: log_probs (N, V), {', '.join(state)}"])


def onnx_lm(model, directory: Path):
    from rnncli.export.scripted import LMStep

    lstm = model.config.cell == "lstm"
    state = ["h", "c"] if lstm else ["h"]
    ids, lengths = torch.tensor([[4, 5, 6], [4, 5, 0]]), torch.tensor([3, 2])
    zeros = tuple(torch.zeros(model.config.layers, 2, model.config.hidden) for _ in state)
    export_graph(LMStep(model, lstm), (ids, lengths, *zeros), directory / "step.onnx", ["ids", "lengths", *state],
                 ["logits", *[f"{s}_out" for s in state]],
                 {"ids": {0: "B", 1: "T"}, "lengths": {0: "B"}, **{s: {1: "B"} for s in state},
                  "logits": {0: "B"}, **{f"{s}_out": {1: "B"} for s in state}})
    return ({"step": "step.onnx"}, [f"ids (B, T) int64, lengths (B,), {', '.join(state)} (L, B, H)"],
            [f"logits (B, V) at each row's last position, {', '.join(state)}"])
