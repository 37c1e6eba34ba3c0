"""Vocabulary shortlists: the lexicon built at training time and decoding restricted to it."""

import pytest
import torch

from rnncli.config import DecodeSettings
from rnncli.decoding.beam import beam_search
from rnncli.decoding.shortlist import Lexicon, ShortlistedModel, build_lexicon
from test_translate_core import padded_batch, tiny_model


def toy_corpus():
    # source 5 always comes with target 9; source 6 with target 10; 7 is everywhere.
    src = [[5, 7, 3], [6, 7, 3], [5, 6, 7, 3], [7, 3]]
    tgt = [[9, 11], [10, 11], [9, 10, 11], [11, 12]]
    return src, tgt


def test_lexicon_ranks_co_occurring_pieces_first_and_counts_frequency():
    src, tgt = toy_corpus()
    lexicon = build_lexicon(src, tgt, src_vocab=8, tgt_vocab=13, keep=3)
    assert lexicon.candidates.shape == (8, 3)
    assert lexicon.candidates[5, 0] == 9 and lexicon.candidates[6, 0] == 10
    assert lexicon.candidates[7, 0] == 11       # in all four pairs: Dice 1.0
    assert (lexicon.candidates[0] == 0).all()   # a piece never seen has no candidates (PAD fill)
    assert lexicon.frequent[:2].tolist() == [11, 9] or lexicon.frequent[:2].tolist() == [11, 10]
    assert lexicon.frequent[0] == 11 and sorted(lexicon.frequent.tolist()) == list(range(13))


def test_vocabulary_is_sorted_keeps_specials_and_round_trips(tmp_path):
    src, tgt = toy_corpus()
    lexicon = build_lexicon(src, tgt, src_vocab=8, tgt_vocab=13, keep=3)
    vocab = lexicon.vocabulary(torch.tensor([[5, 3, 0]]), frequent=1, per_source=1)
    assert vocab.tolist() == [0, 1, 2, 3, 9, 11]     # specials, candidate of 5, most frequent
    lexicon.save(tmp_path)
    loaded = Lexicon.load(tmp_path)
    assert torch.equal(loaded.frequent, lexicon.frequent) and torch.equal(loaded.candidates, lexicon.candidates)


def test_full_vocabulary_shortlist_decodes_exactly_like_the_model():
    model = tiny_model(seed=5)
    src, lengths = padded_batch([6, 4, 2], seed=6)
    with torch.inference_mode():
        settings = DecodeSettings(beam=3, n_best=2, length_penalty=0.6, max_extra=3)
        plain = beam_search(model, src, lengths, settings)
        listed = ShortlistedModel(model, torch.arange(24))
        shortlisted = listed.token_ids(beam_search(listed, src, lengths, settings))
    assert [[h.tokens for h in s] for s in plain] == [[h.tokens for h in s] for s in shortlisted]
    assert [h.score for s in plain for h in s] == pytest.approx([h.score for s in shortlisted for h in s])


def test_shortlist_renormalises_over_its_rows_and_only_produces_them():
    model = tiny_model(seed=8)
    src, lengths = padded_batch([5, 3], seed=9)
    vocabulary = torch.tensor([0, 1, 2, 3, 6, 11, 17, 20])
    listed = ShortlistedModel(model, vocabulary)
    prev = torch.tensor([2, 2])
    with torch.inference_mode():
        full, _, _ = model.step(prev, model.encode(src, lengths))
        short, _, _ = listed.step(torch.tensor([2, 2]), listed.encode(src, lengths))
        assert torch.allclose(short, torch.log_softmax(full[:, vocabulary], dim=-1), atol=1e-5)
        settings = DecodeSettings(beam=4, n_best=4, max_extra=3, length_penalty=0.0)
        hyps = listed.token_ids(beam_search(listed, src, lengths, settings))
    produced = {t for sentence in hyps for h in sentence for t in h.tokens}
    assert produced and produced <= set(vocabulary.tolist())


def test_a_vocabulary_without_the_specials_first_is_refused():
    with pytest.raises(ValueError, match="special ids"):
        ShortlistedModel(tiny_model(), torch.tensor([0, 1, 3, 5]))


def test_int8_rows_equal_the_full_int8_layer_columns():
    from rnncli.core.quantized import Int8Linear, int8_available

    if not int8_available():
        pytest.skip("this torch build has no fbgemm int8 kernels")
    torch.manual_seed(0)
    layer = torch.nn.Linear(32, 50)
    full = Int8Linear.from_linear(layer)
    rows = torch.tensor([0, 3, 7, 49])
    x = torch.randn(6, 32)
    assert torch.allclose(full.rows(rows)(x), full(x)[:, rows], atol=1e-6)
