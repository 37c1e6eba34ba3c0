"""The encoder-decoder as one scriptable module, beam search included: decoding/beam.py
step for step (same tensors, same order of operations), so TorchScript output equals
rnncli's own search; `encode` and `step` are also the two ONNX graphs.

    forward(src (B, S), src_lengths (B,), beam, n_best, alpha, max_ratio, max_extra, exact)
      -> tokens (B, n_best, T) (EOS and PAD after a hypothesis' end), lengths (B, n_best)
         (tokens produced, EOS included), log_probs (B, n_best) (raw), real (B, n_best)
         (False where a sentence has fewer than n_best hypotheses)
"""


from typing import List, Tuple

import torch
from torch import Tensor, nn

from rnncli.export.blocks import ScriptAttention, ScriptStack, length_mask

# Special ids as literals (TorchScript reads no module globals): PAD 0, BOS 2, EOS 3.


class CellWeights(nn.Module):
    def __init__(self, rnn: nn.Module, layer: int):
        super().__init__()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            setattr(self, name, getattr(rnn, f"{name}_l{layer}"))


def length_penalty(lengths: Tensor, alpha: float) -> Tensor:
    return ((5.0 + lengths.float()) / 6.0).pow(alpha)


def restrict(log_probs: Tensor, finished: Tensor, at_limit: Tensor) -> Tensor:
    """decoding.greedy.restrict."""
    log_probs[:, 0] = float("-inf")
    log_probs[:, 2] = float("-inf")
    forced = (at_limit & ~finished).nonzero().squeeze(1)
    if forced.numel() > 0:
        eos = log_probs[forced, 3]
        log_probs[forced] = float("-inf")
        log_probs[forced, 3] = eos
    done = finished.nonzero().squeeze(1)
    if done.numel() > 0:
        log_probs[done] = float("-inf")
        log_probs[done, 0] = 0.0
    return log_probs


class ScriptTranslator(nn.Module):
    cell: torch.jit.Final[str]
    layers: torch.jit.Final[int]
    directions: torch.jit.Final[int]
    general_step: torch.jit.Final[bool]

    def __init__(self, model, always_pack: bool = False):
        super().__init__()
        c = model.config
        self.cell, self.layers, self.directions = c.cell, c.layers, model.encoder.num_directions
        self.src_embed, self.tgt_embed = model.src_embed, model.tgt_embed
        self.encoder = ScriptStack(model.encoder, always_pack)
        self.bridge_h = model.bridge_h
        self.bridge_c = model.bridge_c if model.bridge_c is not None else nn.Identity()
        self.attention = ScriptAttention(model.attention)
        self.combine, self.output = model.combine, model.output
        # Seq2Seq.decoder_step: cell functions on the fused weights, else the stack itself.
        self.general_step = model.decoder.layer_norm
        self.decoder = ScriptStack(model.decoder)
        weights = [] if self.general_step else [CellWeights(model.decoder.rnn, i) for i in range(c.layers)]
        self.cells = nn.ModuleList(weights)

    def merge(self, s: Tensor, lstm_c: bool) -> Tensor:
        s = s.view(self.layers, self.directions, s.size(1), s.size(2)).permute(0, 2, 1, 3)
        s = s.reshape(self.layers, s.size(1), -1)
        return torch.tanh(self.bridge_c(s) if lstm_c else self.bridge_h(s)).contiguous()

    @torch.jit.export
    def encode(self, src: Tensor, src_lengths: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """-> decoder h (L, B, H), c (as h for non-LSTM), memory (B, S, Hm), keys, mask (B, S)."""
        memory, h, c = self.encoder(self.src_embed(src), src_lengths, None, None)
        mask = length_mask(src_lengths, src.size(1))
        h0 = self.merge(h, False)
        c0 = self.merge(c, True) if self.cell == "lstm" else h0
        return h0, c0, memory, self.attention.project(memory), mask

    def cell_step(self, x: Tensor, h: Tensor, c: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        if self.general_step:
            out, hn, cn = self.decoder(x.unsqueeze(1), None, h, c)
            return out.squeeze(1), hn, cn
        hs: List[Tensor] = []
        cs: List[Tensor] = []
        layer = 0
        for w in self.cells:
            if self.cell == "lstm":
                x, c_new = torch.lstm_cell(x, (h[layer], c[layer]), w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)
                cs.append(c_new)
            elif self.cell == "gru":
                x = torch.gru_cell(x, h[layer], w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)
            elif self.cell == "rnn-tanh":
                x = torch.rnn_tanh_cell(x, h[layer], w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)
            else:
                x = torch.rnn_relu_cell(x, h[layer], w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh)
            hs.append(x)
            layer += 1
        h_all = torch.stack(hs)
        return x, h_all, (torch.stack(cs) if self.cell == "lstm" else h_all)

    @torch.jit.export
    def step(self, prev: Tensor, h: Tensor, c: Tensor, memory: Tensor, keys: Tensor,
             mask: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Seq2Seq.step: prev (N,) -> log-probs (N, V), h, c; N = B * group rows."""
        hidden, h, c = self.cell_step(self.tgt_embed(prev), h, c)
        query = hidden.view(memory.size(0), -1, hidden.size(-1))
        context, _ = self.attention(query, keys, memory, mask)
        attentional = torch.tanh(self.combine(torch.cat([query, context], dim=-1)))
        logits = self.output(attentional.reshape(hidden.size(0), -1))
        return torch.log_softmax(logits, dim=-1), h, c

    def forward(self, src: Tensor, src_lengths: Tensor, beam: int, n_best: int, alpha: float,
                max_ratio: float, max_extra: int, exact: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        batch = src.size(0)
        h, c, memory, keys, mask = self.encode(src, src_lengths)
        h, c = h.repeat_interleave(beam, dim=1), c.repeat_interleave(beam, dim=1)
        rows = batch * beam
        scores = torch.zeros(batch, beam)
        scores[:, 1:] = float("-inf")
        scores = scores.view(-1)
        limits = ((src_lengths.float() * max_ratio).floor().long() + max_extra).repeat_interleave(beam)
        tokens = torch.full((rows, 0), 2, dtype=torch.long)
        lengths = torch.zeros(rows, dtype=torch.long)
        finished = torch.zeros(rows, dtype=torch.bool)
        active = torch.arange(batch)
        results: List[Tuple[Tensor, Tensor, Tensor, Tensor]] = [
            (torch.empty(0, 0, dtype=torch.long), torch.empty(0, dtype=torch.long), torch.empty(0),
             torch.empty(0, dtype=torch.bool)) for _ in range(batch)]
        while True:
            live = scores.size(0) // beam
            step = tokens.size(1)
            prev = tokens[:, -1] if step > 0 else torch.full_like(lengths, 2)
            log_probs, h, c = self.step(prev, h, c, memory, keys, mask)
            log_probs = restrict(log_probs.float(), finished, step + 1 >= limits)
            # beam.score
            top_log_probs, top_tokens = log_probs.topk(min(beam, log_probs.size(1)), dim=1)
            cumulative = scores.unsqueeze(1) + top_log_probs
            new_lengths = lengths + (~finished).long()
            rank = (cumulative / length_penalty(new_lengths, alpha).unsqueeze(1)).view(live, -1)
            cumulative, top_tokens = cumulative.view(live, -1), top_tokens.view(live, -1)
            # beam.select
            per_row = top_tokens.size(1) // beam
            _, best = rank.topk(beam, dim=1)
            offsets = torch.arange(live).unsqueeze(1) * beam
            origin = (torch.div(best, per_row, rounding_mode="floor") + offsets).view(-1)
            token = top_tokens.gather(1, best).view(-1)
            scores = cumulative.gather(1, best).view(-1)
            lengths = lengths[origin] + (~finished[origin]).long()
            finished = finished[origin]
            tokens = torch.cat([tokens[origin], token.unsqueeze(1)], dim=1)
            h, c = h.index_select(1, origin), c.index_select(1, origin)
            # beam.finish
            finished = finished | (tokens[:, -1] == 3)
            fin = finished.view(live, beam)
            rank_now = (scores / length_penalty(lengths, alpha)).view(live, beam)
            bound = (scores / length_penalty(limits if exact else lengths, alpha)).view(live, beam)
            best_live = bound.masked_fill(fin, float("-inf")).amax(dim=1)
            settled = rank_now.masked_fill(~fin, float("-inf")).topk(min(n_best, beam), dim=1).values[:, -1]
            done = fin.all(dim=1) | (settled >= best_live)
            if bool(done.any()):
                self.collect(results, active[done], done, tokens, lengths, scores, finished, beam, n_best, alpha)
                if bool(done.all()):
                    break
                keep_rows = (~done).repeat_interleave(beam).nonzero().squeeze(1)
                kept = (~done).nonzero().squeeze(1)
                tokens, scores, lengths = tokens[keep_rows], scores[keep_rows], lengths[keep_rows]
                finished, limits = finished[keep_rows], limits[keep_rows]
                h, c = h.index_select(1, keep_rows), c.index_select(1, keep_rows)
                memory, keys, mask = memory[kept], keys[kept], mask[kept]
                active = active[~done]
        return self.stack_results(results, n_best)

    def collect(self, results: List[Tuple[Tensor, Tensor, Tensor, Tensor]], ids: Tensor, done: Tensor,
                tokens: Tensor, lengths: Tensor, scores: Tensor, finished: Tensor, beam: int, n_best: int,
                alpha: float) -> None:
        """beam.n_best_lists for the sentences marked `done`."""
        rows = done.repeat_interleave(beam).nonzero().squeeze(1)
        count = ids.size(0)
        t, s, n, f = tokens[rows], scores[rows], lengths[rows], finished[rows]
        final_rank = (s / length_penalty(n, alpha)).masked_fill(~f, float("-inf"))
        top_rank, order = final_rank.view(count, beam).topk(n_best, dim=1)
        picked = (order + torch.arange(count).unsqueeze(1) * beam).view(-1)
        real = top_rank > float("-inf")
        id_list: List[int] = ids.tolist()
        for i, index in enumerate(id_list):
            part = picked[i * n_best:(i + 1) * n_best]
            results[index] = (t[part], n[part], s[part], real[i])

    def stack_results(self, results: List[Tuple[Tensor, Tensor, Tensor, Tensor]],
                      n_best: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        width = 0
        for r in results:
            width = max(width, r[0].size(1))
        tokens = torch.zeros(len(results), n_best, width, dtype=torch.long)
        lengths = torch.zeros(len(results), n_best, dtype=torch.long)
        log_probs = torch.zeros(len(results), n_best)
        real = torch.zeros(len(results), n_best, dtype=torch.bool)
        for i, r in enumerate(results):
            tokens[i, :, : r[0].size(1)] = r[0]
            lengths[i], log_probs[i], real[i] = r[1], r[2], r[3]
        return tokens, lengths, log_probs, real


class EncoderGraph(nn.Module):
    """ONNX: src, src_lengths -> h, [c,] memory, keys (the mask is rebuilt from lengths)."""

    def __init__(self, model):
        super().__init__()
        self.t = ScriptTranslator(model, always_pack=True)

    def forward(self, src, src_lengths):
        h, c, memory, keys, _ = self.t.encode(src, src_lengths)
        return (h, c, memory, keys) if self.t.cell == "lstm" else (h, memory, keys)


class StepGraph(nn.Module):
    """ONNX: one decoder step for N rows against B sentences' memory."""

    def __init__(self, model):
        super().__init__()
        self.t = ScriptTranslator(model, always_pack=True)

    def forward(self, prev, h, *rest):
        if self.t.cell == "lstm":
            c, memory, keys, mask = rest
            return self.t.step(prev, h, c, memory, keys, mask)
        memory, keys, mask = rest
        log_probs, h, _ = self.t.step(prev, h, h, memory, keys, mask)
        return log_probs, h
