"""Decoding: sampling for language models (sampling.py), greedy and beam search for
encoder-decoders (greedy.py, beam.py)."""
