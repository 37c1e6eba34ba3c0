"""Scriptable stand-ins for the core blocks, built on a loaded model's own submodules.

The core blocks keep their state as `Tensor | tuple` and skip absent layers with `None`,
which TorchScript cannot type; these wrappers hold the very same nn.LSTM/GRU/Linear/
Embedding objects (the same weights) behind one fixed signature, and run the same torch
ops in the same order as the eager code, so scripted results are bitwise the eager ones.

State is always (h, c): for GRU and vanilla cells c is h and is ignored on the way in.
`always_pack`: ONNX export traces one path, so it packs every batch (the ONNX RNN ops
take the lengths); TorchScript packs only padded batches, as `core.rnn.run_packed` does.
"""


from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class LSTMRun(nn.Module):
    always_pack: torch.jit.Final[bool]

    def __init__(self, rnn: nn.LSTM, always_pack: bool = False):
        super().__init__()
        self.rnn, self.always_pack = rnn, always_pack

    def forward(self, x: Tensor, lengths: Optional[Tensor], h: Optional[Tensor],
                c: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        hx: Optional[Tuple[Tensor, Tensor]] = None
        if h is not None and c is not None:
            hx = (h, c)
        total = x.size(1)
        if lengths is None or (not self.always_pack and bool((lengths == total).all())):
            out, (hn, cn) = self.rnn(x, hx)
            return out, hn, cn
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out_packed, (hn, cn) = self.rnn(packed, hx)
        out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=total)
        return out, hn, cn


class PlainRun(nn.Module):
    """GRU and vanilla RNNs: one state tensor, returned twice to keep the signature."""

    always_pack: torch.jit.Final[bool]

    def __init__(self, rnn: nn.Module, always_pack: bool = False):
        super().__init__()
        self.rnn, self.always_pack = rnn, always_pack

    def forward(self, x: Tensor, lengths: Optional[Tensor], h: Optional[Tensor],
                c: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        total = x.size(1)
        if lengths is None or (not self.always_pack and bool((lengths == total).all())):
            out, hn = self.rnn(x, h)
            return out, hn, hn
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out_packed, hn = self.rnn(packed, h)
        out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=total)
        return out, hn, hn


def make_run(rnn: nn.Module, always_pack: bool) -> nn.Module:
    return LSTMRun(rnn, always_pack) if isinstance(rnn, nn.LSTM) else PlainRun(rnn, always_pack)


class ScriptStack(nn.Module):
    """core.rnn.RNNStack in eval mode: one fused call, or per-layer calls + LayerNorm."""

    layer_norm: torch.jit.Final[bool]
    directions: torch.jit.Final[int]
    is_lstm: torch.jit.Final[bool]

    def __init__(self, stack, always_pack: bool = False):
        super().__init__()
        self.layer_norm, self.directions = stack.layer_norm, stack.num_directions
        self.is_lstm = stack.cell == "lstm"
        rnns = list(stack.layers) if stack.layer_norm else [stack.rnn]
        self.runs = nn.ModuleList([make_run(r, always_pack) for r in rnns])
        self.norms = nn.ModuleList(list(stack.norms) if stack.layer_norm else [nn.Identity()])

    def forward(self, x: Tensor, lengths: Optional[Tensor], h: Optional[Tensor],
                c: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """x (B, T, E) -> outputs (B, T, H*D), h (L*D, B, H), c (as h for non-LSTM)."""
        hs: List[Tensor] = []
        cs: List[Tensor] = []
        out = x
        d = self.directions
        index = 0
        for run, norm in zip(self.runs, self.norms):
            h_in, c_in = h, c
            if self.layer_norm:   # one state slice per layer, as core.rnn.split_state cuts it
                if h is not None:
                    h_in = h[index * d:(index + 1) * d]
                if c is not None:
                    c_in = c[index * d:(index + 1) * d]
            out, hn, cn = run(out, lengths, h_in, c_in)
            if self.layer_norm:
                out = norm(out)
            hs.append(hn)
            cs.append(cn)
            index += 1
        if not self.layer_norm:
            return out, hs[0], cs[0]
        return out, torch.cat(hs), torch.cat(cs)


class ScriptAttention(nn.Module):
    """core.attention.Attention with absent layers replaced by Identity."""

    kind: torch.jit.Final[str]

    def __init__(self, attention):
        super().__init__()
        self.kind = attention.kind
        self.key_layer = attention.key_layer if attention.key_layer is not None else nn.Identity()
        bahdanau = attention.kind == "bahdanau"
        self.query_layer = attention.query_layer if bahdanau else nn.Identity()
        self.energy = attention.energy if bahdanau else nn.Identity()

    def project(self, memory: Tensor) -> Tensor:
        return self.key_layer(memory)

    def forward(self, query: Tensor, keys: Tensor, memory: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor]:
        if self.kind == "bahdanau":
            hidden = torch.tanh(self.query_layer(query).unsqueeze(2) + keys.unsqueeze(1))
            scores = self.energy(hidden).squeeze(-1)
        else:
            scores = torch.bmm(query, keys.transpose(1, 2))
        scores = scores.masked_fill(~mask.unsqueeze(1), float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        return torch.bmm(weights, memory), weights


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """core.masking.sequence_mask with a required width."""
    positions = torch.arange(max_len, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


class ScriptPooling(nn.Module):
    """core.pooling.Pooling; the attention scorer is Identity for the other methods."""

    method: torch.jit.Final[str]
    directions: torch.jit.Final[int]

    def __init__(self, pooling):
        super().__init__()
        self.method, self.directions = pooling.method, pooling.num_directions
        self.scorer = pooling.scorer if pooling.scorer is not None else nn.Identity()

    def forward(self, outputs: Tensor, lengths: Tensor) -> Tensor:
        if self.method == "last":
            batch, size = outputs.size(0), outputs.size(2)
            last = (lengths - 1).clamp(min=0).view(batch, 1, 1).expand(batch, 1, size)
            final = outputs.gather(1, last).squeeze(1)
            if self.directions == 1:
                return final
            half = size // 2
            return torch.cat([final[:, :half], outputs[:, 0, half:]], dim=-1)
        mask = length_mask(lengths, outputs.size(1))
        if self.method == "mean":
            summed = (outputs * mask.unsqueeze(-1).to(outputs.dtype)).sum(dim=1)
            return summed / lengths.clamp(min=1).unsqueeze(-1).to(outputs.dtype)
        if self.method == "max":
            return outputs.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
        scores = self.scorer(outputs).squeeze(-1)
        weights = scores.float().masked_fill(~mask, float("-inf")).softmax(dim=1)
        return torch.bmm(weights.to(outputs.dtype).unsqueeze(1), outputs).squeeze(1)
