"""Attention, the encoder-decoder and greedy/beam decoding on tiny random models."""

import itertools

import pytest
import torch

from rnncli.config import DecodeSettings
from rnncli.core.attention import KINDS, Attention
from rnncli.decoding.beam import beam_search
from rnncli.decoding.greedy import EOS_ID, greedy_search, length_penalty
from rnncli.models.seq2seq import Seq2Seq, Seq2SeqConfig


def tiny_model(seed=0, vocab=24, **kw) -> Seq2Seq:
    torch.manual_seed(seed)
    settings = dict(src_vocab=vocab, tgt_vocab=vocab, hidden=16, embed=8, dropout=0.0)
    return Seq2Seq(Seq2SeqConfig(**{**settings, **kw})).eval()


def padded_batch(lengths, vocab=24, seed=1):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, vocab, (len(lengths), max(lengths)), generator=g)
    for row, n in enumerate(lengths):
        src[row, n - 1] = EOS_ID
        src[row, n:] = 0
    return src, torch.tensor(lengths)


@pytest.mark.parametrize("kind", KINDS)
def test_attention_sums_to_one_and_ignores_padding(kind):
    torch.manual_seed(0)
    attention = Attention(kind, query_size=6, memory_size=10)
    memory = torch.randn(3, 5, 10)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    query = torch.randn(3, 4, 6)
    context, weights = attention(query, attention.project(memory), memory, mask)
    assert context.shape == (3, 4, 10) and weights.shape == (3, 4, 5)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 4))
    assert (weights[~mask.unsqueeze(1).expand_as(weights)] == 0).all()
    garbage = memory.clone()
    garbage[~mask] = 1e4  # whatever sits in padded positions must not matter
    context2, weights2 = attention(query, attention.project(garbage), garbage, mask)
    assert torch.allclose(context, context2) and torch.allclose(weights, weights2)


@pytest.mark.parametrize("kind,cell,layers,encoder_hidden", [
    ("bahdanau", "lstm", 1, None), ("luong-dot", "gru", 2, None), ("luong-general", "lstm", 2, None),
    ("luong-general", "rnn-tanh", 1, None), ("luong-general", "lstm", 2, 8), ("bahdanau", "gru", 1, 6)])
def test_parallel_forward_equals_step_by_step(kind, cell, layers, encoder_hidden):
    model = tiny_model(attention=kind, cell=cell, layers=layers, encoder_hidden=encoder_hidden)
    src, lengths = padded_batch([6, 3, 1])
    tgt_in = torch.randint(4, 24, (3, 5))
    with torch.no_grad():
        parallel, weights = model.teacher_forced_log_probs(src, lengths, tgt_in)
        state = model.encode(src, lengths)
        steps = []
        for t in range(tgt_in.size(1)):
            log_probs, state, _ = model.step(tgt_in[:, t], state)
            steps.append(log_probs)
    assert torch.allclose(torch.stack(steps, 1), parallel, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(3, 5), atol=1e-6)
    assert (weights[1, :, 3:] == 0).all() and (weights[2, :, 1:] == 0).all()


def test_training_forward_projects_only_real_positions():
    model = tiny_model()
    src, lengths = padded_batch([4, 2])
    tgt_in = torch.tensor([[2, 5, 6], [2, 7, 0]])
    mask = tgt_in != 0
    logits = model(src, lengths, tgt_in, mask)
    full, _ = model.teacher_forced_log_probs(src, lengths, tgt_in)
    assert logits.shape == (5, 24)
    assert torch.allclose(torch.log_softmax(logits, -1), full[mask], atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_beam_one_equals_greedy(kind):
    model = tiny_model(attention=kind)
    src, lengths = padded_batch([7, 5, 3, 2], seed=4)
    with torch.inference_mode():
        greedy = greedy_search(model, src, lengths, DecodeSettings(max_extra=4, length_penalty=0.0))
        beam = beam_search(model, src, lengths, DecodeSettings(beam=1, max_extra=4, length_penalty=0.0))
    assert [g[0].tokens for g in greedy] == [b[0].tokens for b in beam]
    assert [g[0].log_prob for g in greedy] == pytest.approx([b[0].log_prob for b in beam], abs=1e-4)


def sequence_log_prob(model, src, lengths, tokens):
    tgt_in = torch.tensor([[2] + tokens])
    log_probs, _ = model.teacher_forced_log_probs(src, lengths, tgt_in)
    targets = tokens + [EOS_ID]
    return float(sum(log_probs[0, t, y] for t, y in enumerate(targets)))


@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_finds_the_best_sequence_by_brute_force(alpha):
    vocab = 7  # 4 specials + 3 real tokens; <unk> (1) may be produced too, <pad>/<s> never
    model = tiny_model(seed=3, vocab=vocab)
    src, lengths = padded_batch([2], vocab=vocab, seed=5)
    # max_output_lengths = 1.0 * 2 + 1 = 3 tokens, EOS included
    limits = DecodeSettings(beam=24, n_best=5, length_penalty=alpha, max_ratio=1.0, max_extra=1, beam_stop="exact")
    with torch.inference_mode():
        found = beam_search(model, src, lengths, limits)[0]
        candidates = [list(seq) for n in range(3) for seq in itertools.product([1, *range(4, vocab)], repeat=n)]
        scored = []
        for seq in candidates:
            log_prob = sequence_log_prob(model, src, lengths, seq)
            scored.append((log_prob / float(length_penalty(torch.tensor(len(seq) + 1), alpha)), seq))
    scored.sort(key=lambda x: -x[0])
    assert [h.tokens for h in found] == [seq for _, seq in scored[:5]]
    assert [h.score for h in found] == pytest.approx([s for s, _ in scored[:5]], abs=1e-4)


def test_small_beam_scores_at_least_greedy_on_average():
    model = tiny_model(seed=7)
    src, lengths = padded_batch([6, 5, 4, 4, 3, 2], seed=8)
    with torch.inference_mode():
        greedy = greedy_search(model, src, lengths, DecodeSettings(max_extra=3, length_penalty=0.0))
        beam = beam_search(model, src, lengths, DecodeSettings(beam=4, max_extra=3, length_penalty=0.0))
    assert sum(b[0].log_prob for b in beam) >= sum(g[0].log_prob for g in greedy) - 1e-4


@pytest.mark.parametrize("beam", [1, 4])
def test_batched_decoding_equals_one_at_a_time(beam):
    model = tiny_model(seed=11, attention="bahdanau")
    lengths = [8, 6, 5, 3, 1]
    src, src_lengths = padded_batch(lengths, seed=12)
    with torch.inference_mode():
        settings = DecodeSettings(beam=beam, n_best=beam, length_penalty=0.6, max_extra=3)
        together = beam_search(model, src, src_lengths, settings, return_attention=True)
        for row, n in enumerate(lengths):
            alone = beam_search(model, src[row:row + 1, :n], src_lengths[row:row + 1], settings,
                                return_attention=True)[0]
            assert [h.tokens for h in alone] == [h.tokens for h in together[row]]
            assert [h.score for h in alone] == pytest.approx([h.score for h in together[row]], abs=1e-4)
            for a, b in zip(alone, together[row]):
                assert a.attention.shape == (len(a.tokens) + 1, n)
                assert torch.allclose(a.attention, b.attention, atol=1e-5)


def test_n_best_sorted_and_lengths_limited():
    model = tiny_model(seed=2)
    src, lengths = padded_batch([4, 2], seed=3)
    with torch.inference_mode():
        results = beam_search(model, src, lengths,
                              DecodeSettings(beam=5, n_best=5, length_penalty=0.6, max_ratio=1.0, max_extra=2))
    for hyps, n in zip(results, [4, 2]):
        assert len(hyps) == 5
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
        assert all(len(h.tokens) + 1 <= n + 2 for h in hyps)
        assert all(0 not in h.tokens and EOS_ID not in h.tokens for h in hyps)


@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("gru", 1)])
def test_int8_decoding_steps_stay_close_to_fp32(cell, layers):
    from rnncli.core.quantized import int8_available

    if not int8_available():
        pytest.skip("this torch build has no fbgemm int8 kernels")
    fp32, int8 = tiny_model(3, cell=cell, layers=layers), tiny_model(3, cell=cell, layers=layers)
    int8.quantize_for_cpu()
    assert (int8.step_layers.cells is not None) == (cell == "lstm")
    src, lengths = padded_batch([6, 4, 5])
    with torch.inference_mode():
        state_a, state_b = fp32.encode(src, lengths), int8.encode(src, lengths)
        prev = torch.full((3,), 2)
        for _ in range(4):
            lp_a, state_a, _ = fp32.step(prev, state_a)
            lp_b, state_b, _ = int8.step(prev, state_b)
            assert (lp_a - lp_b).abs().max() < 0.05
            prev = lp_a.argmax(-1)
