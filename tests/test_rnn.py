import math

import pytest
import torch

from rnncli.core.rnn import CELLS, RNNStack, last_layer_hidden, make_rnn
from rnncli.models.lm import LanguageModel, LMConfig


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_shapes_for_every_cell(cell, bidirectional, layer_norm):
    torch.manual_seed(0)
    stack = RNNStack(cell, 6, 5, num_layers=2, bidirectional=bidirectional, dropout=0.1, layer_norm=layer_norm)
    x = torch.randn(3, 7, 6)
    lengths = torch.tensor([7, 4, 1])
    out, state = stack(x, lengths)
    dirs = 2 if bidirectional else 1
    assert out.shape == (3, 7, 5 * dirs) == (3, 7, stack.output_size)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2 * dirs, 3, 5)
    assert last_layer_hidden(state, dirs).shape == (3, 5 * dirs)
    assert torch.all(out[1, 4:] == 0) and torch.all(out[2, 1:] == 0)  # padding outputs are zero


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_does_not_change_real_positions(cell, bidirectional):
    torch.manual_seed(1)
    stack = RNNStack(cell, 4, 3, num_layers=2, bidirectional=bidirectional).eval()
    seq = torch.randn(1, 5, 4)
    alone, state_alone = stack(seq, torch.tensor([5]))
    padded = torch.cat([seq, torch.randn(1, 3, 4)], dim=1)
    batch, state_batch = stack(padded, torch.tensor([5]))
    assert torch.allclose(alone, batch[:, :5], atol=1e-6)
    assert torch.allclose(last_layer_hidden(state_alone, stack.num_directions),
                          last_layer_hidden(state_batch, stack.num_directions), atol=1e-6)


def test_lstm_forget_gate_bias_is_one():
    rnn = make_rnn("lstm", 4, 3)
    total = rnn.bias_ih_l0 + rnn.bias_hh_l0
    assert torch.equal(total[3:6], torch.ones(3))
    assert torch.equal(total[:3], torch.zeros(3)) and torch.equal(total[6:], torch.zeros(6))


@pytest.mark.parametrize("tie", [False, True])
def test_lm_loss_at_init_is_log_vocab(tie):
    torch.manual_seed(0)
    vocab = 50
    model = LanguageModel(LMConfig(vocab_size=vocab, embed=16, hidden=32, tie_embeddings=tie)).eval()
    ids = torch.randint(0, vocab, (8, 20))
    logits, _ = model(ids)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), ids.reshape(-1))
    assert abs(loss.item() - math.log(vocab)) < 0.05
    if tie:
        assert model.output.weight is model.embedding.weight


def test_lm_overfits_a_tiny_batch():
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=12, embed=16, hidden=64, dropout=0.0))
    ids = torch.randint(4, 12, (2, 16))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        logits, _ = model(ids[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 12), ids[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05


def test_same_seed_same_weights():
    def build(seed):
        torch.manual_seed(seed)
        return LanguageModel(LMConfig(vocab_size=20, layers=2, cell="gru")).state_dict()

    a, b, c = build(5), build(5), build(6)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
