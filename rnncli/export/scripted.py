"""Whole-prediction modules for classify, tag and lm, scriptable (TorchScript) and
traceable (ONNX), on a loaded model's own weights.

    ScriptClassifier(ids (B, T), lengths (B,))            -> probabilities (B, C)
    ScriptTagger(words, lengths, chars, char_lengths, char_index, constrained)
                                                          -> tags (B, T), emissions (B, T, L)
    ScriptLM.generate(ids, lengths, max_tokens, temperature, top_k, top_p, seed)
                                                          -> ids (B, max_tokens)
    ScriptLM.next_probs(ids, lengths)                     -> probabilities (B, V)
    ScriptLM.log_probs(ids, h, c)                         -> log-probabilities (B, T, V), h, c

Each mirrors the eager path op for op (models/, core/crf.py, decoding/sampling.py), so
the results are the eager ones; tests/test_export.py holds them to that.
"""


from typing import List, Optional, Tuple

import torch
from torch import Tensor, nn

from rnncli.export.blocks import ScriptPooling, ScriptStack, length_mask

FORBIDDEN = -10000.0   # core/crf.py's cost of a forbidden move


class ScriptClassifier(nn.Module):
    temperature: torch.jit.Final[float]

    def __init__(self, model, always_pack: bool = False, temperature: float = 1.0):
        super().__init__()
        self.temperature = temperature   # the checkpoint's calibration (tasks/classify.py)
        self.embedding, self.output = model.embedding, model.output
        self.rnn = ScriptStack(model.rnn, always_pack)
        self.pool = ScriptPooling(model.pool)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        outputs, _, _ = self.rnn(self.embedding(ids), lengths, None, None)
        return (self.output(self.pool(outputs, lengths)).float() / self.temperature).softmax(dim=-1)


class CharCNN(nn.Module):
    def __init__(self, cnn):
        super().__init__()
        self.embedding, self.conv = cnn.embedding, cnn.conv

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        h = self.conv(self.embedding(chars).transpose(1, 2))
        real = length_mask(lengths, chars.size(1))
        return torch.tanh(h.masked_fill(~real.unsqueeze(1), float("-inf")).max(dim=2).values)


class CharLSTM(nn.Module):
    def __init__(self, encoder, always_pack: bool):
        super().__init__()
        self.embedding, self.rnn = encoder.embedding, ScriptStack(encoder.rnn, always_pack)

    def forward(self, chars: Tensor, lengths: Tensor) -> Tensor:
        _, h, _ = self.rnn(self.embedding(chars), lengths, None, None)
        top = h[-2:]                                     # core.rnn.last_layer_hidden, 2 directions
        return top.transpose(0, 1).reshape(h.size(1), -1)


def viterbi(emissions: Tensor, mask: Tensor, start: Tensor, trans: Tensor, end: Tensor) -> Tuple[Tensor, Tensor]:
    """core.crf.viterbi: best paths (B, T) (0 on padding) and their scores (B,)."""
    batch, length, labels = emissions.size(0), emissions.size(1), emissions.size(2)
    keep = torch.arange(labels, device=emissions.device).expand(batch, labels)
    score = start + emissions[:, 0]
    pointers: List[Tensor] = []
    for t in range(1, length):
        best, index = (score.unsqueeze(2) + trans).max(dim=1)
        real = mask[:, t].unsqueeze(1)
        score = torch.where(real, best + emissions[:, t], score)
        pointers.append(torch.where(real, index, keep))
    best_score, last = (score + end).max(dim=1)
    path = [last]
    for i in range(len(pointers) - 1, -1, -1):
        last = pointers[i].gather(1, last.unsqueeze(1)).squeeze(1)
        path.append(last)
    path.reverse()
    return torch.stack(path, dim=1) * mask, best_score


def decoding_tables(model) -> dict[str, Tensor]:
    """Start/transition/end scores and constraint penalties of a tagger, as plain tensors
    (what ScriptTagger holds and what the ONNX runner's Viterbi reads from crf.json)."""
    from rnncli.core.crf import penalty

    labels = len(model.config.labels)
    start_pen = penalty(model.start_allowed, (labels,))
    trans_pen = penalty(model.allowed, (labels, labels))
    end_pen = penalty(model.end_allowed, (labels,))
    if model.crf is not None:
        start, trans, end = (p.detach().clone() for p in (model.crf.start, model.crf.transitions, model.crf.end))
    else:   # a softmax tagger: core.crf.greedy_constrained's zero scores
        start, trans, end = torch.zeros(labels), torch.zeros(labels, labels), torch.zeros(labels)
    return {"start": start, "transitions": trans, "end": end, "start_penalty": start_pen,
            "transitions_penalty": trans_pen, "end_penalty": end_pen}


class ScriptTagger(nn.Module):
    has_chars: torch.jit.Final[bool]
    crf: torch.jit.Final[bool]

    def __init__(self, model, always_pack: bool = False, decode: bool = True):
        super().__init__()
        from rnncli.core.charfeatures import CharCNN as EagerCNN

        self.embedding, self.output = model.embedding, model.output
        self.has_chars, self.crf = model.chars is not None, model.crf is not None
        if model.chars is None:
            self.chars: nn.Module = nn.Identity()
        elif isinstance(model.chars, EagerCNN):
            self.chars = CharCNN(model.chars)
        else:
            self.chars = CharLSTM(model.chars, always_pack)
        self.rnn = ScriptStack(model.rnn, always_pack)
        for name, value in decoding_tables(model).items():
            self.register_buffer(name, value)

    def emissions(self, words: Tensor, lengths: Tensor, chars: Tensor, char_lengths: Tensor,
                  char_index: Tensor) -> Tensor:
        x = self.embedding(words)
        if self.has_chars:
            per_word = self.chars(chars, char_lengths)
            x = torch.cat([x, per_word[char_index]], dim=2)
        outputs, _, _ = self.rnn(x, lengths, None, None)
        return self.output(outputs)

    def decode(self, emissions: Tensor, lengths: Tensor, constrained: bool) -> Tensor:
        """models.tagger.Tagger.decode."""
        mask = length_mask(lengths, emissions.size(1))
        if self.crf:
            start, trans, end = self.start, self.transitions, self.end
            if constrained:
                start, trans, end = start + self.start_penalty, trans + self.transitions_penalty, end + self.end_penalty
            return viterbi(emissions.float(), mask, start, trans, end)[0]
        log_probs = emissions.float().log_softmax(-1)
        if not constrained:
            return log_probs.argmax(-1) * mask
        zero = log_probs.new_zeros(log_probs.size(2))
        return viterbi(log_probs, mask, zero + self.start_penalty, self.transitions_penalty,
                       zero + self.end_penalty)[0]

    def forward(self, words: Tensor, lengths: Tensor, chars: Tensor, char_lengths: Tensor, char_index: Tensor,
                constrained: bool = True) -> Tuple[Tensor, Tensor]:
        emissions = self.emissions(words, lengths, chars, char_lengths, char_index)
        return self.decode(emissions, lengths, constrained), emissions


class TagEmissions(nn.Module):
    """The ONNX graph of a tagger: emissions only (the Viterbi runs in runner.py)."""

    def __init__(self, model):
        super().__init__()
        self.tagger = ScriptTagger(model, always_pack=True)

    def forward(self, words, lengths, chars, char_lengths, char_index):
        return self.tagger.emissions(words, lengths, chars, char_lengths, char_index)


def filter_logits(logits: Tensor, top_k: int, top_p: float) -> Tensor:
    """decoding.sampling.filter_logits."""
    if top_k > 0 and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True, dim=-1)
        probs = torch.softmax(sorted_logits, dim=-1)
        drop_sorted = probs.cumsum(dim=-1) - probs >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


class ScriptLM(nn.Module):
    has_projection: torch.jit.Final[bool]

    def __init__(self, model, always_pack: bool = False):
        super().__init__()
        self.embedding, self.output = model.embedding, model.output
        self.rnn = ScriptStack(model.rnn, always_pack)
        self.has_projection = model.projection is not None
        self.projection = model.projection if model.projection is not None else nn.Identity()

    def run(self, ids: Tensor, lengths: Optional[Tensor], h: Optional[Tensor],
            c: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        hidden, h, c = self.rnn(self.embedding(ids), lengths, h, c)
        if self.has_projection:
            hidden = self.projection(hidden)
        return self.output(hidden), h, c

    @torch.jit.export
    def next_probs(self, ids: Tensor, lengths: Tensor) -> Tensor:
        logits, _, _ = self.run(ids, lengths, None, None)
        last = logits[torch.arange(ids.size(0)), lengths - 1]
        return last.float().softmax(dim=-1)

    @torch.jit.export
    def log_probs(self, ids: Tensor, h: Optional[Tensor], c: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """Next-token log-probabilities at every position (B, T, V) of unpadded rows, read on
        from state h, c (None: a fresh start), and the state after them: text scoring."""
        logits, h, c = self.run(ids, None, h, c)
        return logits.float().log_softmax(dim=-1), h, c

    def forward(self, ids: Tensor, lengths: Tensor, max_tokens: int, temperature: float, top_k: int,
                top_p: float, seed: int) -> Tensor:
        """decoding.sampling.sample with a CPU generator seeded with `seed`: (B, max_tokens)."""
        generator = torch.Generator()
        generator.manual_seed(seed)
        logits, h, c = self.run(ids, lengths, None, None)
        last = logits[torch.arange(ids.size(0)), lengths - 1]
        chosen: List[Tensor] = []
        for _ in range(max_tokens):
            if temperature <= 0:
                next_ids = last.argmax(dim=-1)
            else:
                probs = torch.softmax(filter_logits(last.float() / temperature, top_k, top_p), dim=-1)
                next_ids = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            chosen.append(next_ids)
            logits, h, c = self.run(next_ids.unsqueeze(1), None, h, c)
            last = logits[:, -1]
        if len(chosen) == 0:
            return torch.zeros(ids.size(0), 0, dtype=torch.long)
        return torch.stack(chosen, dim=1)


class LMStep(nn.Module):
    """The ONNX graph of a language model: ids (B, T), lengths, state -> last logits, state.
    The same graph reads the prompt (T > 1) and each sampled token (T = 1)."""

    def __init__(self, model, lstm: bool):
        super().__init__()
        self.lm, self.lstm = ScriptLM(model, always_pack=True), lstm

    def forward(self, ids, lengths, h, c=None):
        logits, h, c = self.lm.run(ids, lengths, h, c if self.lstm else None)
        last = logits[torch.arange(ids.size(0)), lengths - 1]
        return (last, h, c) if self.lstm else (last, h)
