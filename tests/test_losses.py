"""The fused label-smoothed cross-entropy equals torch's own, in value and gradient."""

import pytest
import torch
import torch.nn.functional as F

from rnncli.core.losses import smoothed_cross_entropy


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
