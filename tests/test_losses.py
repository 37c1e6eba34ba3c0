"""The fused losses equal torch's own, in value and gradient."""

import pytest
import torch
import torch.nn.functional as F

from rnncli.core.losses import linear_cross_entropy, smoothed_cross_entropy


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_value_and_gradient_equal_torch(smoothing):
    torch.manual_seed(0)
    logits = torch.randn(37, 50, dtype=torch.float64) * 3
    target = torch.randint(0, 50, (37,))
    ours_in = logits.clone().requires_grad_()
    ref_in = logits.clone().requires_grad_()
    ours = smoothed_cross_entropy(ours_in, target, smoothing)
    ref = F.cross_entropy(ref_in, target, label_smoothing=smoothing)
    (ours * 2.5).backward()
    (ref * 2.5).backward()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-6)
    torch.testing.assert_close(ours_in.grad, ref_in.grad.float(), rtol=1e-5, atol=1e-7, check_dtype=False)


def test_gradient_flows_through_a_layer_and_matches_torch():
    torch.manual_seed(1)
    layer = torch.nn.Linear(8, 20)
    x, target = torch.randn(12, 8), torch.randint(0, 20, (12,))
    smoothed_cross_entropy(layer(x), target, 0.1).backward()
    ours = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    F.cross_entropy(layer(x), target, label_smoothing=0.1).backward()
    for a, p in zip(ours, layer.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-5, atol=1e-6)


def test_no_gradient_bookkeeping_without_grad_and_empty_input():
    logits, target = torch.randn(4, 6), torch.tensor([0, 5, 2, 1])
    value = smoothed_cross_entropy(logits, target, 0.1)
    assert value.item() == pytest.approx(F.cross_entropy(logits, target, label_smoothing=0.1).item(), rel=1e-6)
    assert smoothed_cross_entropy(torch.randn(0, 6), torch.zeros(0, dtype=torch.long), 0.1).item() == 0.0
    with pytest.raises(ValueError):
        smoothed_cross_entropy(torch.randn(4, 6), torch.zeros(3, dtype=torch.long))


@pytest.mark.parametrize("block_rows", [1, 5, 37, 256])
@pytest.mark.parametrize("bias", [True, False])
def test_blocked_linear_cross_entropy_equals_the_unfused_pair(block_rows, bias):
    """Value and the gradients of features, weight and bias equal F.linear + F.cross_entropy,
    whether the rows divide into blocks evenly or not (37 rows: blocks of 5 leave 2)."""
    torch.manual_seed(2)
    features = torch.randn(37, 16, dtype=torch.float64, requires_grad=True)
    layer = torch.nn.Linear(16, 50, bias=bias).double()
    target = torch.randint(0, 50, (37,))
    ours = linear_cross_entropy(features, layer.weight, layer.bias, target, 0.1, block_rows)
    (ours * 2.5).backward()
    got = [features.grad.clone(), *(p.grad.clone() for p in layer.parameters())]
    features.grad = None
    layer.zero_grad()
    ref = F.cross_entropy(layer(features), target, label_smoothing=0.1)
    (ref * 2.5).backward()
    assert ours.item() == pytest.approx(ref.item(), rel=1e-12)
    for a, b in zip(got, [features.grad, *(p.grad for p in layer.parameters())]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_blocked_linear_cross_entropy_without_grad_and_bad_shapes():
    features, weight, target = torch.randn(9, 4), torch.randn(7, 4), torch.randint(0, 7, (9,))
    value = linear_cross_entropy(features, weight, None, target, 0.2, block_rows=4)
    assert value.item() == pytest.approx(F.cross_entropy(features @ weight.t(), target, label_smoothing=0.2).item(),
                                         rel=1e-6)
    assert not value.requires_grad
    assert linear_cross_entropy(torch.randn(0, 4), weight, None, torch.zeros(0, dtype=torch.long)).item() == 0.0
    with pytest.raises(ValueError):
        linear_cross_entropy(features, torch.randn(7, 5), None, target)


def test_translation_model_loss_is_the_loss_of_its_logits():
    """Seq2Seq(..., targets) runs the blocked loss; it equals the loss of the logits it returns
    without targets, and trains the same parameters (the tied output layer included)."""
    from rnncli.models.seq2seq import Seq2Seq, Seq2SeqConfig
    from rnncli.tasks.translate import make_batch

    torch.manual_seed(3)
    model = Seq2Seq(Seq2SeqConfig(src_vocab=30, tgt_vocab=40, hidden=16, embed=16, tie_embeddings=True)).eval()
    batch = make_batch([[5, 6, 7, 2], [8, 9, 2]], [[4, 5, 6], [7, 8, 9, 10, 11]])
    mask = batch["tgt_out"] != 0
    args = (batch["src"], batch["src_lengths"], batch["tgt_in"], mask)
    fused = model(*args, batch["tgt_out"][mask], 0.1)
    fused.backward()
    fused_grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    plain = F.cross_entropy(model(*args), batch["tgt_out"][mask], label_smoothing=0.1)
    plain.backward()
    assert fused.item() == pytest.approx(plain.item(), rel=1e-5)
    assert fused_grads.keys() == {n for n, p in model.named_parameters() if p.grad is not None}
    for name, grad in fused_grads.items():
        torch.testing.assert_close(grad, dict(model.named_parameters())[name].grad, rtol=1e-4, atol=1e-6)
