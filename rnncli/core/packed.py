"""fp32 linear layers for CPU inference through oneDNN, with their weights packed once.

Decoding spends most of its time in the per-step layers: the output layer (hidden x
vocabulary, once per hypothesis per step), the decoder's LSTM cell and the attention
combine. torch runs fp32 nn.Linear on CPU through MKL's sgemm, which on CPUs it does not
tune for (this AMD EPYC with AVX-512) takes an AVX2 path: 320x256x8000 takes 15.7 ms there
against 6.3 ms through oneDNN with the weight packed in oneDNN's blocked layout
(`bench/rnn_flops.py` gives the two peaks). Packing happens once, at load.

The results are fp32; they differ from MKL's in the last bits (summation order), as a
change of thread count does. Each row's result does not depend on the other rows, so a
sentence decodes the same in any batch.

torch reaches this kernel as `torch.ops.mkldnn._linear_pointwise` (what torch.compile's CPU
backend emits for an nn.Linear), which is not public API: `packed_available` runs it once
against F.linear, and callers keep the plain layers when it is missing or wrong.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

# The batch size oneDNN packs the weight for; the packed layout serves any batch (measured:
# within 5% of a per-size packing from 5 to 1,024 rows).
PACK_ROWS = 320


@functools.lru_cache(maxsize=1)
def packed_available() -> bool:
    """Whether this torch build has oneDNN's packed linear, and it agrees with F.linear."""
    ops = getattr(torch.ops, "mkldnn", None)
    try:
        if not (torch.backends.mkldnn.is_available() and hasattr(ops, "_linear_pointwise")
                and hasattr(ops, "_reorder_linear_weight")):
            return False
        generator = torch.Generator().manual_seed(0)
        weight, bias = torch.randn(24, 16, generator=generator), torch.randn(24, generator=generator)
        x = torch.randn(5, 16, generator=generator)
        with torch.inference_mode():
            got = PackedLinear(weight, bias)(x)
        return bool(torch.allclose(got, F.linear(x, weight, bias), rtol=1e-4, atol=1e-5))
    except (RuntimeError, AttributeError):
        return False


class PackedLinear(nn.Module):
    """y = x W^T + b, fp32, through oneDNN with W packed; inference only (no gradients, CPU)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        weight = weight.detach().float().cpu().contiguous()
        self.bias = None if bias is None else bias.detach().float().cpu().contiguous()
        self.out_features, self.in_features = weight.shape
        self._weight = weight   # kept for `rows`
        self._packed = torch.ops.mkldnn._reorder_linear_weight(weight, PACK_ROWS)

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "PackedLinear":
        return cls(linear.weight, linear.bias)

    def rows(self, index: torch.Tensor) -> "PackedLinear":
        """Only output units `index` (a vocabulary shortlist), packed anew."""
        index = index.cpu()
        return PackedLinear(self._weight[index], None if self.bias is None else self.bias[index])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.mkldnn._linear_pointwise(x.float().contiguous(), self._packed, self.bias,
                                                  "none", [], "")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, oneDNN packed"
