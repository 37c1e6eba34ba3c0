"""Beam search's two stopping rules (--beam-stop best|exact) and the oneDNN-packed fp32
layers CPU decoding runs (core/packed.py)."""

import pytest
import torch
import torch.nn.functional as F

from rnncli.config import DecodeSettings
from rnncli.core.packed import PackedLinear, packed_available
from rnncli.decoding import beam
from rnncli.decoding.greedy import EOS_ID
from test_translate_cli import trained_translate  # noqa: F401  (a fixture)
from test_translate_core import padded_batch, tiny_model

needs_packed = pytest.mark.skipif(not packed_available(), reason="this torch build has no oneDNN packed linear")


def beams_of(scores, lengths, finished, limits, beam_size):
    """A search state of one sentence per row of the given (B, K) lists; last tokens EOS
    where finished."""
    finished = torch.tensor(finished).view(-1)
    tokens = torch.where(finished, EOS_ID, 5).unsqueeze(1)
    return beam.Beams(tokens, torch.tensor(scores).view(-1), torch.tensor(lengths).view(-1), torch.zeros_like(finished),
                      torch.tensor(limits).view(-1), None, None, beam_size)


def test_finish_best_stops_when_the_best_ranked_rows_have_ended_exact_when_nothing_can_overtake():
    # Sentence 0: its finished row ranks above the live one now (-2/lp(3) > -2.2/lp(4)), but the
    # live one could still reach -2.2/lp(20) > -2/lp(3), so only "best" stops it.
    # Sentence 1: the live row ranks above the finished one: neither rule stops.
    # Sentence 2: the live row cannot reach the finished rank even at its limit: both stop.
    scores = [[-2.0, -2.2], [-3.0, -1.0], [-1.0, -9.0]]
    lengths = [[3, 4], [3, 4], [3, 4]]
    finished = [[True, False], [True, False], [True, False]]
    limits = [[20, 20], [20, 20], [20, 20]]
    alpha = 0.6
    best = beam.finish(beams_of(scores, lengths, finished, limits, 2), 1, alpha, exact=False)
    exact = beam.finish(beams_of(scores, lengths, finished, limits, 2), 1, alpha, exact=True)
    assert best.tolist() == [True, False, True]
    assert exact.tolist() == [False, False, True]
    lp = lambda n: ((5 + n) / 6) ** alpha   # noqa: E731  (the assumptions of the case above)
    assert -2 / lp(3) > -2.2 / lp(4) and -2.2 / lp(20) > -2 / lp(3) and -9 / lp(20) < -1 / lp(3)


def test_finish_best_with_n_best_waits_for_the_n_best_ranked_rows():
    scores = [[-1.0, -1.5, -4.0]]
    state = lambda: beams_of(scores, [[3, 3, 3]], [[True, False, False]], [[9, 9, 9]], 3)   # noqa: E731
    assert beam.finish(state(), 1, 0.6, exact=False).tolist() == [True]
    assert beam.finish(state(), 2, 0.6, exact=False).tolist() == [False]   # the 2nd best is live


def count_steps(model):
    calls = []
    original = model.step

    def step(prev, state, output=None):
        calls.append(prev.size(0))
        return original(prev, state, output)
    model.step = step
    return calls


def test_without_length_penalty_both_rules_agree():
    model = tiny_model(seed=4)
    src, lengths = padded_batch([7, 5, 4, 2], seed=6)
    with torch.inference_mode():
        found = {stop: beam.beam_search(model, src, lengths, DecodeSettings(beam=4, n_best=2, length_penalty=0.0,
                                                                             max_extra=4, beam_stop=stop))
                 for stop in ("best", "exact")}
    assert [[h.tokens for h in s] for s in found["best"]] == [[h.tokens for h in s] for s in found["exact"]]
    assert [[h.score for h in s] for s in found["best"]] == [[h.score for h in s] for s in found["exact"]]


def test_best_takes_fewer_steps_than_exact_with_a_length_penalty():
    model = tiny_model(seed=4)
    with torch.no_grad():
        model.output.bias[EOS_ID] += 2.5   # hypotheses that end, as a trained model's do
    src, lengths = padded_batch([7, 5, 4, 2, 6, 3], seed=6)
    rows = {}
    for stop in ("best", "exact"):
        calls = count_steps(model)
        with torch.inference_mode():
            found = beam.beam_search(model, src, lengths, DecodeSettings(beam=4, length_penalty=1.0, max_extra=6,
                                                                          beam_stop=stop))
        del model.step
        rows[stop] = sum(calls)
        assert all(len(hyps) == 1 and len(hyps[0].tokens) + 1 <= 2 * n + 6 for hyps, n in zip(found, lengths))
    assert rows["best"] < 0.8 * rows["exact"], rows


def test_beam_stop_is_checked():
    from rnncli.errors import ConfigError

    with pytest.raises(ConfigError, match="beam"):
        DecodeSettings(beam_stop="soon")


@needs_packed
@pytest.mark.parametrize("shape,bias", [((7, 64), True), ((3, 4, 64), True), ((5, 64), False)])
def test_packed_linear_equals_f_linear_to_float_rounding(shape, bias):
    torch.manual_seed(0)
    layer = torch.nn.Linear(64, 300, bias=bias)
    x = torch.randn(*shape)
    with torch.inference_mode():
        got = PackedLinear.from_linear(layer)(x)
        expected = F.linear(x, layer.weight, layer.bias)
        rows = torch.tensor([3, 0, 299])
        subset = PackedLinear.from_linear(layer).rows(rows)(x)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert torch.allclose(subset, expected[..., rows], rtol=1e-5, atol=1e-5)


@needs_packed
@pytest.mark.parametrize("cell,layers", [("lstm", 2), ("gru", 1)])
def test_packed_decoding_equals_plain_to_float_rounding(cell, layers):
    plain, packed = tiny_model(3, cell=cell, layers=layers), tiny_model(3, cell=cell, layers=layers)
    packed.pack_for_cpu()
    assert (packed.step_layers.cells is not None) == (cell == "lstm")
    assert packed.state_dict().keys() == plain.state_dict().keys()   # the stand-ins are not saved
    src, lengths = padded_batch([6, 4, 5])
    settings = DecodeSettings(beam=3, n_best=3, max_extra=3)
    with torch.inference_mode():
        state_a, state_b = plain.encode(src, lengths), packed.encode(src, lengths)
        prev = torch.full((3,), 2)
        for _ in range(4):
            lp_a, state_a, _ = plain.step(prev, state_a)
            lp_b, state_b, _ = packed.step(prev, state_b)
            assert torch.allclose(lp_a, lp_b, atol=1e-5)
            prev = lp_a.argmax(-1)
        a, b = beam.beam_search(plain, src, lengths, settings), beam.beam_search(packed, src, lengths, settings)
    assert [[h.tokens for h in s] for s in a] == [[h.tokens for h in s] for s in b]
    assert [h.score for s in a for h in s] == pytest.approx([h.score for s in b for h in s], abs=1e-5)


def test_loading_for_cpu_decoding_packs_unless_int8(trained_translate):
    import rnncli
    from rnncli.core.quantized import Int8Linear, int8_available

    translator = rnncli.load(trained_translate, device="cpu")
    layers = translator.model.step_layers
    if packed_available():
        assert isinstance(layers.output, PackedLinear) and isinstance(layers.combine, PackedLinear)
    else:
        assert layers is None
    assert isinstance(translator.model.output, torch.nn.Linear)   # what export and training use
    if int8_available():
        assert isinstance(rnncli.load(trained_translate, device="cpu", int8=True).model.step_layers.output,
                          Int8Linear)


def test_translate_cli_takes_beam_stop(cli, trained_translate, tmp_path):
    from conftest import DATA

    lines = (DATA / "translate" / "test.en").read_text(encoding="utf-8").splitlines()[:6]
    path = tmp_path / "src.en"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for stop in ("best", "exact"):
        result = cli("translate", trained_translate, path, "--beam", "3", "--beam-stop", stop, "--device", "cpu")
        assert result.code == 0, result.err
        assert len(result.out.split("\n")[:-1]) == len(lines)
    bad = cli("translate", trained_translate, path, "--beam-stop", "never")
    assert bad.code == 2 and "beam" in bad.err and "Traceback" not in bad.err
