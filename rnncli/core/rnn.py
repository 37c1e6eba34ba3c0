"""The one recurrent core every task uses: a cell factory and a stack over packed sequences.

Shapes: inputs (B, T, E), lengths (B,), outputs (B, T, H * directions).
State: a tensor h (L * D, B, H) for GRU/vanilla cells, a tuple (h, c) for LSTM.
"""

from __future__ import annotations


import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnncli.core.dropout import Dropout

CELLS = ("lstm", "gru", "rnn-tanh", "rnn-relu")
State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def make_rnn(cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
             bidirectional: bool = False, dropout: float = 0.0) -> nn.RNNBase:
    """A fused torch RNN (cuDNN on GPU, oneDNN on CPU) for one of CELLS, batch-first."""
    common = dict(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                  bidirectional=bidirectional, batch_first=True,
                  dropout=dropout if num_layers > 1 else 0.0)
    if cell == "lstm":
        rnn: nn.RNNBase = nn.LSTM(**common)
    elif cell == "gru":
        rnn = nn.GRU(**common)
    elif cell == "rnn-tanh":
        rnn = nn.RNN(nonlinearity="tanh", **common)
    elif cell == "rnn-relu":
        rnn = nn.RNN(nonlinearity="relu", **common)
    else:
        raise ValueError(f"unknown cell {cell!r}; choose one of {', '.join(CELLS)}")
    init_rnn_(rnn, cell)
    return rnn


def init_rnn_(rnn: nn.RNNBase, cell: str) -> None:
    """Xavier input weights, orthogonal recurrent weights per gate, zero biases.

    LSTM forget gates start with bias 1 so that gradients flow through the cell state
    early in training (Jozefowicz et al., 2015). torch adds b_ih and b_hh, so only b_ih
    carries the 1.
    """
    hidden = rnn.hidden_size
    for name, param in rnn.named_parameters():
        with torch.no_grad():
            if name.startswith("weight_ih"):
                for chunk in param.split(hidden, dim=0):
                    nn.init.xavier_uniform_(chunk)
            elif name.startswith("weight_hh"):
                for chunk in param.split(hidden, dim=0):
                    if cell == "rnn-relu":
                        nn.init.eye_(chunk)  # IRNN (Le et al., 2015): stable ReLU recurrences
                    else:
                        nn.init.orthogonal_(chunk)
            elif name.startswith("bias"):
                param.zero_()
                if cell == "lstm" and name.startswith("bias_ih"):
                    param[hidden:2 * hidden] = 1.0


class RNNStack(nn.Module):
    """A stack of recurrent layers over padded batches, run packed so padding costs nothing.

    With `layer_norm`, each layer is its own fused RNN followed by LayerNorm (normalising
    layer outputs keeps deep stacks trainable); without it the whole stack is one fused
    call, the fastest path.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.0, layer_norm: bool = False):
        super().__init__()
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.num_directions = 2 if bidirectional else 1
        self.layer_norm = layer_norm
        if layer_norm:
            sizes = [input_size] + [hidden_size * self.num_directions] * (num_layers - 1)
            self.layers = nn.ModuleList(
                make_rnn(cell, size, hidden_size, 1, bidirectional) for size in sizes)
            self.norms = nn.ModuleList(
                nn.LayerNorm(hidden_size * self.num_directions) for _ in sizes)
            self.dropout = Dropout(dropout)
        else:
            self.rnn = make_rnn(cell, input_size, hidden_size, num_layers, bidirectional, dropout)

    @property
    def output_size(self) -> int:
        return self.hidden_size * self.num_directions

    def forward(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None,
                state: State | None = None) -> tuple[torch.Tensor, State]:
        """inputs (B, T, E), lengths (B,) or None (all full) -> outputs (B, T, H*D), state."""
        if not self.layer_norm:
            return run_packed(self.rnn, inputs, lengths, state)
        per_layer = split_state(state, self.num_layers, self.num_directions)
        finals = []
        outputs = inputs
        for index, (rnn, norm) in enumerate(zip(self.layers, self.norms)):
            if index > 0:
                outputs = self.dropout(outputs)
            outputs, final = run_packed(rnn, outputs, lengths, per_layer[index])
            outputs = norm(outputs)
            finals.append(final)
        return outputs, join_states(finals)


def run_packed(rnn: nn.RNNBase, inputs: torch.Tensor, lengths: torch.Tensor | None,
               state: State | None) -> tuple[torch.Tensor, State]:
    """Run a fused RNN; pack only when the batch really has padding."""
    total = inputs.size(1)
    if lengths is None or bool((lengths == total).all()):
        return rnn(inputs, state)
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    outputs, final = rnn(packed, state)
    outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=total)
    return outputs, final


def split_state(state: State | None, layers: int, directions: int) -> list[State | None]:
    """Cut a stacked state (L*D, B, H) into one state per layer (D, B, H)."""
    if state is None:
        return [None] * layers
    if isinstance(state, tuple):
        hs, cs = (s.split(directions, dim=0) for s in state)
        return list(zip(hs, cs))
    return list(state.split(directions, dim=0))


def join_states(states: list[State]) -> State:
    if isinstance(states[0], tuple):
        return (torch.cat([s[0] for s in states]), torch.cat([s[1] for s in states]))
    return torch.cat(states)


def last_layer_hidden(state: State, num_directions: int) -> torch.Tensor:
    """The top layer's final hidden state, directions concatenated: (B, H * D)."""
    h = state[0] if isinstance(state, tuple) else state
    top = h[-num_directions:]                      # (D, B, H)
    return top.transpose(0, 1).reshape(h.size(1), -1)


class LSTMStep(nn.Module):
    """One LSTM layer's single time step for inference, with both matrix products as one,
    [x; h] @ [W_ih | W_hh]^T, through `gates` (an int8 or a packed fp32 linear layer made
    from those weights), then torch's gate order (input, forget, cell, output)."""

    def __init__(self, gates: nn.Module):
        super().__init__()
        self.gates = gates

    @classmethod
    def from_lstm(cls, rnn: nn.LSTM, layer: int, make_linear) -> "LSTMStep":
        """Layer `layer` of `rnn` (unidirectional), its gates made by make_linear(weight, bias)."""
        w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{name}_l{layer}") for name in
                                  ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        return cls(make_linear(torch.cat([w_ih, w_hh], dim=1).detach(), (b_ih + b_hh).detach()))

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        h, c = state
        i, f, g, o = self.gates(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
