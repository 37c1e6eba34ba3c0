"""Int8 weights for CPU inference: a drop-in replacement for a trained nn.Linear.

Decoding a translation spends most of its time in the output layer (hidden x vocabulary,
once per hypothesis per step). fbgemm's dynamic int8 linear quantizes each row of the
weight once (symmetric, one scale per output unit), quantizes the activations per call,
and multiplies in int8: about twice the speed of fp32 on AVX2, with the output logits
off by a few hundredths. `reduce_range` keeps activations to 7 bits, which AVX2's
16-bit intermediate sums need to avoid saturating (without it the error is ten times larger).

torch marks its quantized-tensor constructors as deprecated in favour of torchao, but they
are the only fast int8 CPU path in torch itself; `int8_available` says whether this torch
build still has them, and callers turn a missing one into a clear error.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


def int8_available() -> bool:
    engines = getattr(torch.backends, "quantized", None)
    return (engines is not None and any(e in engines.supported_engines for e in ("x86", "fbgemm"))
            and hasattr(torch.ops.quantized, "linear_dynamic"))


class Int8Linear(nn.Module):
    """y = x W^T + b with W held as per-row int8; inference only (no gradients, CPU)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        weight = weight.detach().float().cpu()
        bias = None if bias is None else bias.detach().float().cpu()
        scales = (weight.abs().amax(dim=1).clamp_min(1e-8) / 127.0).double()
        zero_points = torch.zeros(weight.size(0), dtype=torch.long)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecation notice of the constructors
            quantized = torch.quantize_per_channel(weight, scales, zero_points, 0, torch.qint8)
            self._packed = torch.ops.quantized.linear_prepack(quantized, bias)
        self.out_features, self.in_features = weight.shape
        self._weight, self._bias = weight, bias   # kept for `rows`: 4 bytes per weight


    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "Int8Linear":
        return cls(linear.weight, linear.bias)

    def rows(self, index: torch.Tensor) -> "Int8Linear":
        """Only output units `index`; each row's scale is its own, so the rows are
        quantized exactly as in the full layer."""
        index = index.cpu()
        return Int8Linear(self._weight[index], None if self._bias is None else self._bias[index])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).float().contiguous()
        out = torch.ops.quantized.linear_dynamic(flat, self._packed, True)
        return out.view(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8"
