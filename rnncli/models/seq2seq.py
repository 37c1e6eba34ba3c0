"""The attention encoder-decoder (many-to-many, unequal length), Luong style.

    source ids -> embedding -> RNN stack (bidirectional by default, packed) -> memory (B, S, Hm)
    encoder final state -> bridge (linear + tanh per layer) -> decoder initial state
    target ids -> embedding -> RNN stack over the whole target in ONE call -> h (B, T, H)
    attention(h, memory) for all T at once -> context (B, T, Hm)
    tanh(W [h; context]) -> attentional state (B, T, O) -> output layer -> logits

Attention comes after the RNN (no input feeding), so training needs no Python loop over
time, and `step` (one token for N hypotheses, used by greedy and beam search) computes
exactly what the parallel forward computes at each position, with the same weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from rnncli.core.attention import Attention
from rnncli.core.dropout import Dropout
from rnncli.core.losses import linear_cross_entropy, smoothed_cross_entropy
from rnncli.core.masking import sequence_mask
from rnncli.core.rnn import LSTMStep, RNNStack, State


@dataclass(frozen=True)
class Seq2SeqConfig:
    src_vocab: int
    tgt_vocab: int
    cell: str = "lstm"
    layers: int = 1
    hidden: int = 256            # the decoder's size; the encoder's per direction unless encoder_hidden
    embed: int = 256
    dropout: float = 0.2
    bidirectional: bool = True
    attention: str = "luong-general"
    tie_embeddings: bool = False  # output layer shares the target embedding
    share_embeddings: bool = False  # joint vocabulary: one table for source and target
    layer_norm: bool = False
    # Encoder units per direction; None: `hidden`. OpenNMT-py's `-brnn` splits one hidden size
    # over the two directions, so its "256-unit bidirectional encoder" is 128 per direction.
    encoder_hidden: int | None = None

    @property
    def encoder_units(self) -> int:
        return self.encoder_hidden or self.hidden

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "Seq2SeqConfig":
        return cls(**values)


@dataclass
class DecoderState:
    """What decoding carries between steps for N = B x group hypotheses.

    The RNN state has a row per hypothesis; the source side (memory, keys, mask) has a row
    per sentence, shared by its `group` consecutive hypotheses (the beams), so a beam of
    K never copies the encoder outputs K times, and attention for a sentence's K beams is
    one small matrix product rather than K separate ones."""

    rnn: State                 # (L, N, H), or a (h, c) pair for LSTM
    memory: torch.Tensor       # (B, S, Hm)
    keys: torch.Tensor         # (B, S, Hk)
    mask: torch.Tensor         # (B, S) bool
    group: int = 1             # hypotheses per sentence; N = B * group, sentence-major

    def repeat(self, times: int) -> "DecoderState":
        """Each hypothesis `times` times in a row (for beams): N -> N * times rows."""
        return DecoderState(map_state(self.rnn, lambda s: s.repeat_interleave(times, dim=1)),
                            self.memory, self.keys, self.mask, self.group * times)

    def take(self, rows: torch.Tensor) -> "DecoderState":
        """Only rows `rows`, whole sentences' groups in order (dropping finished sentences)."""
        sentences = rows.view(-1, self.group)[:, 0] // self.group
        return DecoderState(map_state(self.rnn, lambda s: s.index_select(1, rows)),
                            self.memory[sentences], self.keys[sentences], self.mask[sentences], self.group)

    def select(self, index: torch.Tensor) -> "DecoderState":
        """Keep the RNN states of rows `index` (beam reordering within each sentence)."""
        return DecoderState(map_state(self.rnn, lambda s: s.index_select(1, index)),
                            self.memory, self.keys, self.mask, self.group)


@dataclass
class StepLayers:
    """Stand-ins for a decoding step's layers (int8, or packed fp32), made from the trained
    weights; not submodules, so state_dict, .to() and export see only the trained layers."""

    output: nn.Module
    combine: nn.Module
    cells: list[LSTMStep] | None      # one per decoder layer (LSTM without LayerNorm), else None


# torch's single-step cell functions, taking (input, state, w_ih, w_hh, b_ih, b_hh).
CELL_STEPS = {"lstm": torch.lstm_cell, "gru": torch.gru_cell, "rnn-tanh": torch.rnn_tanh_cell,
              "rnn-relu": torch.rnn_relu_cell}


def map_state(state: State, fn) -> State:
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


class Seq2Seq(nn.Module):
    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = c = config
        directions = 2 if c.bidirectional else 1
        self.src_embed = nn.Embedding(c.src_vocab, c.embed, padding_idx=0)
        if c.share_embeddings:
            if c.src_vocab != c.tgt_vocab:
                raise ValueError("shared embeddings need one joint vocabulary")
            self.tgt_embed = self.src_embed
        else:
            self.tgt_embed = nn.Embedding(c.tgt_vocab, c.embed, padding_idx=0)
        self.dropout = Dropout(c.dropout)
        self.encoder = RNNStack(c.cell, c.embed, c.encoder_units, c.layers, c.bidirectional, c.dropout,
                                c.layer_norm)
        memory_size = self.encoder.output_size
        self.bridge_h = nn.Linear(c.encoder_units * directions, c.hidden)
        self.bridge_c = nn.Linear(c.encoder_units * directions, c.hidden) if c.cell == "lstm" else None
        self.decoder = RNNStack(c.cell, c.embed, c.hidden, c.layers, False, c.dropout, c.layer_norm)
        self.attention = Attention(c.attention, c.hidden, memory_size)
        out_size = c.embed if c.tie_embeddings else c.hidden
        self.combine = nn.Linear(c.hidden + memory_size, out_size, bias=False)
        self.output = nn.Linear(out_size, c.tgt_vocab)
        if c.tie_embeddings:
            self.output.weight = self.tgt_embed.weight
        self.step_layers: StepLayers | None = None     # set by use_step_layers (inference)
        nn.init.normal_(self.src_embed.weight, std=c.embed ** -0.5)
        if not c.share_embeddings:
            nn.init.normal_(self.tgt_embed.weight, std=c.embed ** -0.5)

    # ---- encoder ------------------------------------------------------------------------
    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> DecoderState:
        """src (B, S) ids, src_lengths (B,) >= 1 -> the decoder's starting state."""
        memory, final = self.encoder(self.dropout(self.src_embed(src)), src_lengths)
        mask = sequence_mask(src_lengths.to(src.device), src.size(1))
        return DecoderState(self.bridge(final), memory, self.attention.project(memory), mask)

    def bridge(self, final: State) -> State:
        """Encoder final state (L*D, B, H) -> decoder initial state (L, B, H)."""
        directions = self.encoder.num_directions
        layers = self.config.layers

        def merge(s: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
            s = s.view(layers, directions, s.size(1), s.size(2)).permute(0, 2, 1, 3)
            return torch.tanh(layer(s.reshape(layers, s.size(1), -1))).contiguous()
        if isinstance(final, tuple):
            return merge(final[0], self.bridge_h), merge(final[1], self.bridge_c)
        return merge(final, self.bridge_h)

    # ---- decoder ------------------------------------------------------------------------
    def attend(self, hidden: torch.Tensor, state: DecoderState,
               combine: nn.Module | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """hidden (B, T, H) -> attentional states (B, T, O) and weights (B, T, S)."""
        context, weights = self.attention(hidden, state.keys, state.memory, state.mask)
        return torch.tanh((combine or self.combine)(torch.cat([hidden, context], dim=-1))), weights

    def decode_all(self, tgt_in: torch.Tensor, state: DecoderState) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: tgt_in (B, T) -> attentional states (B, T, O), weights (B, T, S).

        The decoder runs unpacked: it is causal, so the padding after a sentence's end
        never changes its real positions, and bucketed batches carry little padding."""
        hidden, _ = self.decoder(self.dropout(self.tgt_embed(tgt_in)), None, state.rnn)
        return self.attend(hidden, state)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                tgt_mask: torch.Tensor, targets: torch.Tensor | None = None,
                label_smoothing: float = 0.0) -> torch.Tensor:
        """Logits (N, V) for the N real target positions (tgt_mask True), in row-major order;
        with `targets` (N,) given, the mean label-smoothed cross-entropy against them instead.

        Projecting only real positions keeps the vocabulary-sized matmul off the padding.
        The loss is computed here, not by the caller, so that in fp32 the output layer and
        the loss run fused, block by block (`linear_cross_entropy`), and so that a
        DistributedDataParallel wrapper sees all of it in its forward."""
        attentional, _ = self.decode_all(tgt_in, self.encode(src, src_lengths))
        features = self.dropout(attentional[tgt_mask])
        if targets is None:
            return self.output(features)
        if torch.is_autocast_enabled(features.device.type):
            return smoothed_cross_entropy(self.output(features), targets, label_smoothing)
        return linear_cross_entropy(features, self.output.weight, self.output.bias, targets, label_smoothing)

    def step(self, prev: torch.Tensor, state: DecoderState,
             output: Callable[[torch.Tensor], torch.Tensor] | None = None,
             ) -> tuple[torch.Tensor, DecoderState, torch.Tensor]:
        """One decoding step for N rows: prev (N,) ids -> log-probs (N, V), new state, weights (N, S).

        `output` replaces the output layer, e.g. by `output_rows` for a vocabulary shortlist
        (the softmax is then over its rows). With `step_layers` set, its layers run in place
        of the trained ones."""
        layers = self.step_layers
        hidden, rnn_state = self.decoder_step(self.tgt_embed(prev), state.rnn)
        # A sentence's hypotheses attend to its memory as if they were its time steps.
        attentional, weights = self.attend(hidden.view(-1, state.group, hidden.size(-1)), state,
                                           layers.combine if layers else None)
        output = output or (layers.output if layers else self.output)
        logits = output(attentional.reshape(hidden.size(0), -1))
        log_probs = torch.log_softmax(logits, dim=-1)
        new_state = DecoderState(rnn_state, state.memory, state.keys, state.mask, state.group)
        return log_probs, new_state, weights.reshape(hidden.size(0), -1)

    def output_rows(self, rows: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """The output layer restricted to target ids `rows` (inference), as step_layers if set."""
        if self.step_layers is not None:
            return self.step_layers.output.rows(rows)          # Int8Linear, PackedLinear
        weight, bias = self.output.weight[rows], self.output.bias[rows]
        return lambda x: F.linear(x, weight, bias)

    def decoder_step(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """The decoder RNN for one time step: inputs (N, E) -> top-layer output (N, H), state.

        Calls the cell functions on the fused RNN's own weights: for a single step they
        cost a fraction of a fused-kernel launch. LayerNorm stacks take the general path."""
        stack = self.decoder
        if self.step_layers is not None and self.step_layers.cells is not None:
            return self.replaced_decoder_step(inputs, state)
        if stack.layer_norm or stack.cell not in CELL_STEPS:
            outputs, state = stack(inputs.unsqueeze(1), None, state)
            return outputs.squeeze(1), state
        rnn, cell_step = stack.rnn, CELL_STEPS[stack.cell]
        is_lstm = isinstance(state, tuple)
        new_h, new_c = [], []
        x = inputs
        for layer in range(stack.num_layers):
            weights = [getattr(rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            if is_lstm:
                h, c = cell_step(x, (state[0][layer], state[1][layer]), *weights)
                new_c.append(c)
            else:
                h = cell_step(x, state[layer], *weights)
            new_h.append(h)
            x = h
        h_all = torch.stack(new_h)
        return x, ((h_all, torch.stack(new_c)) if is_lstm else h_all)

    def replaced_decoder_step(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        x, new_h, new_c = inputs, [], []
        for layer, cell in enumerate(self.step_layers.cells):
            x, c = cell(x, (state[0][layer], state[1][layer]))
            new_h.append(x)
            new_c.append(c)
        return x, (torch.stack(new_h), torch.stack(new_c))

    def quantize_for_cpu(self) -> None:
        """Int8 weights for the per-step layers of decoding (CPU only; core/quantized.py)."""
        from rnncli.core.quantized import Int8Linear
        self.use_step_layers(Int8Linear)

    def pack_for_cpu(self) -> None:
        """oneDNN-packed fp32 weights for the per-step layers of decoding (CPU; core/packed.py)."""
        from rnncli.core.packed import PackedLinear
        self.use_step_layers(PackedLinear)

    def use_step_layers(self, make_linear: Callable[[torch.Tensor, torch.Tensor | None], nn.Module]) -> None:
        """Inference only: decoding steps run the output layer, combine and the decoder's
        LSTM cells as make_linear(weight, bias) layers made from the trained weights. The
        trained layers stay as they are (training, teacher forcing and export use them)."""
        stack = self.decoder
        cells = None
        if stack.cell == "lstm" and not stack.layer_norm:
            cells = [LSTMStep.from_lstm(stack.rnn, layer, make_linear) for layer in range(stack.num_layers)]
        self.step_layers = StepLayers(make_linear(self.output.weight, self.output.bias),
                                      make_linear(self.combine.weight, self.combine.bias), cells)

    def teacher_forced_log_probs(self, src, src_lengths, tgt_in) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-probs (B, T, V) and weights (B, T, S) at every position (tests, scoring)."""
        attentional, weights = self.decode_all(tgt_in, self.encode(src, src_lengths))
        return torch.log_softmax(self.output(attentional), dim=-1), weights
