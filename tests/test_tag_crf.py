"""CRF against brute-force enumeration; constrained decoders never break the scheme."""

from __future__ import annotations

import itertools

import torch

from rnncli.core.crf import CRF, greedy_constrained
from rnncli.models.tagger import Tagger, TaggerConfig
from rnncli.schemes import is_valid, transition_masks

LABELS = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]


def random_crf(constrained: bool, seed: int = 0) -> CRF:
    torch.manual_seed(seed)
    tables = transition_masks(LABELS, "bioes") if constrained else (None, None, None)
    crf = CRF(len(LABELS), *tables)
    with torch.no_grad():
        for param in crf.parameters():
            param.normal_()
    return crf


def all_paths(crf: CRF, emissions: torch.Tensor, length: int, constrained: bool):
    """Every label path of `length` with its score (one sentence)."""
    start, trans, end = (x.detach() for x in crf.scores(constrained))
    for path in itertools.product(range(len(LABELS)), repeat=length):
        score = start[path[0]] + end[path[-1]] + sum(emissions[t, path[t]] for t in range(length))
        score = score + sum(trans[path[t - 1], path[t]] for t in range(1, length))
        if not constrained or float(score) > -1000:
            yield path, float(score)


def batch(lengths=(4, 2, 1)):
    torch.manual_seed(1)
    emissions = torch.randn(len(lengths), max(lengths), len(LABELS))
    mask = torch.arange(max(lengths)).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)
    return emissions, mask, lengths


def test_log_partition_and_viterbi_match_brute_force():
    emissions, mask, lengths = batch()
    for constrained in (False, True):
        crf = random_crf(constrained)
        with torch.no_grad():
            log_z = crf.log_partition(emissions, mask, constrained)
            tags, best = crf.viterbi(emissions, mask, constrained)
        for row, length in enumerate(lengths):
            paths = list(all_paths(crf, emissions[row], length, constrained))
            expected = torch.logsumexp(torch.tensor([s for _, s in paths]), 0)
            assert torch.allclose(log_z[row], expected, atol=1e-4)
            best_path, best_score = max(paths, key=lambda p: p[1])
            assert tags[row, :length].tolist() == list(best_path)
            assert abs(float(best[row]) - best_score) < 1e-4
            assert tags[row, length:].eq(0).all()


def test_nll_is_minus_log_probability_and_marginals_sum_to_one():
    emissions, mask, lengths = batch()
    crf = random_crf(True)
    gold = crf.viterbi(emissions, mask)[0]
    nll = crf.nll(emissions, gold, mask, constrained=True).detach()
    assert (nll >= 0).all()
    for row, length in enumerate(lengths):
        paths = dict(all_paths(crf, emissions[row], length, True))
        log_z = torch.logsumexp(torch.tensor(list(paths.values())), 0)
        assert abs(float(nll[row]) - float(log_z - paths[tuple(gold[row, :length].tolist())])) < 1e-4
    marginals = crf.marginals(emissions, mask)
    assert torch.allclose(marginals.sum(-1), mask.float(), atol=1e-5)


def test_constrained_decoding_never_emits_an_invalid_sequence():
    for seed in range(20):
        torch.manual_seed(seed)
        emissions = torch.randn(8, 9, len(LABELS)) * 5
        lengths = torch.randint(1, 10, (8,))
        mask = torch.arange(9).unsqueeze(0) < lengths.unsqueeze(1)
        crf = random_crf(True, seed)
        with torch.no_grad():
            crf.transitions.mul_(5)
        tables = [torch.tensor(t) for t in transition_masks(LABELS, "bioes")]
        for decoded in (crf.viterbi(emissions, mask)[0], greedy_constrained(emissions.log_softmax(-1), mask, *tables)):
            for row, length in enumerate(lengths.tolist()):
                assert is_valid([LABELS[i] for i in decoded[row, :length]], "bioes")


def test_tagger_shapes_and_both_decoders():
    config = dict(num_words=20, num_chars=10, labels=LABELS, embed=8, char_embed=4, char_features=6, hidden=8)
    words = torch.randint(1, 20, (3, 5))
    lengths = torch.tensor([5, 3, 1])
    chars = torch.randint(1, 10, (4, 6))
    char_lengths = torch.tensor([6, 2, 1, 3])
    index = torch.randint(0, 4, (3, 5))
    tags = torch.randint(0, len(LABELS), (3, 5))
    for crf in (True, False):
        for encoder in ("cnn", "lstm"):
            model = Tagger(TaggerConfig(**config, crf=crf, char_encoder=encoder)).eval()
            emissions = model(words, lengths, chars, char_lengths, index)
            assert emissions.shape == (3, 5, len(LABELS))
            assert model(words, lengths, chars, char_lengths, index, tags=tags).dim() == 0
            decoded = model.decode(emissions, lengths)
            for row, length in enumerate(lengths.tolist()):
                assert is_valid([LABELS[i] for i in decoded[row, :length]], "bioes")
            assert model.probabilities(emissions, lengths).shape == emissions.shape
