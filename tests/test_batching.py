"""Training batches: every example exactly once, budgets kept, deterministic per epoch."""

import random

from rnncli.batching import bucketed_batches, equal_key_batches


def _data(n=500, seed=0):
    rng = random.Random(seed)
    keys = [rng.randint(1, 12) for _ in range(n)]
    lengths = [k + rng.randint(0, 6) for k in keys]
    return keys, lengths


def test_equal_key_batches_one_key_per_batch_every_example_once():
    keys, lengths = _data()
    batches = equal_key_batches(keys, lengths, seed=3, epoch=0, max_tokens=120, max_sentences=16)
    assert sorted(i for b in batches for i in b) == list(range(len(keys)))
    for batch in batches:
        assert len({keys[i] for i in batch}) == 1
        assert len(batch) <= 16
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 120


def test_equal_key_batches_are_a_pure_function_of_seed_and_epoch():
    keys, lengths = _data()
    first = equal_key_batches(keys, lengths, seed=3, epoch=1, max_sentences=16)
    assert first == equal_key_batches(keys, lengths, seed=3, epoch=1, max_sentences=16)
    assert first != equal_key_batches(keys, lengths, seed=3, epoch=2, max_sentences=16)
    assert first != equal_key_batches(keys, lengths, seed=4, epoch=1, max_sentences=16)


def test_bucketed_batches_cover_every_example_once():
    _, lengths = _data()
    batches = bucketed_batches(lengths, seed=1, epoch=0, max_tokens=100, max_sentences=8)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= 8 for b in batches)
