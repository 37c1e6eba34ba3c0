"""core.dropout.Dropout: nn.Dropout's contract with a cheaper CPU mask."""

import pytest
import torch

from rnncli.core.dropout import Dropout


def test_eval_mode_and_p_zero_are_the_identity():
    x = torch.randn(50, 20)
    assert Dropout(0.3).eval()(x) is x
    assert Dropout(0.0).train()(x) is x


@pytest.mark.parametrize("p", [0.1, 0.25, 0.5])
def test_drops_a_fraction_p_and_scales_the_rest(p):
    torch.manual_seed(0)
    x = torch.rand(400, 500) + 0.5             # never zero, so a zero output means dropped
    y = Dropout(p).train()(x)
    dropped = (y == 0).float().mean().item()
    assert abs(dropped - p) < 0.005            # 200k draws: the standard error is ~0.001
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / (1 - p))
    assert abs(y.mean().item() - x.mean().item()) < 0.01   # unbiased in expectation


def test_gradient_flows_through_the_same_mask():
    torch.manual_seed(1)
    x = torch.randn(64, 32, requires_grad=True)
    y = Dropout(0.4).train()(x)
    y.backward(torch.ones_like(y))
    expected = torch.where(y != 0, torch.full_like(x, 1 / 0.6), torch.zeros_like(x))
    assert torch.allclose(x.grad, expected)


def test_same_seed_same_mask_and_p_one_drops_everything():
    x = torch.randn(10, 10)
    torch.manual_seed(3)
    first = Dropout(0.5).train()(x)
    torch.manual_seed(3)
    assert torch.equal(first, Dropout(0.5).train()(x))
    assert (Dropout(1.0).train()(x) == 0).all()
    with pytest.raises(ValueError):
        Dropout(1.5)
