"""Decoding: sampling for language models (sampling.py); greedy and beam search for
encoder-decoders (greedy.py, beam.py), both steered by config.DecodeSettings; and
vocabulary shortlists that restrict what a search scores (shortlist.py)."""
