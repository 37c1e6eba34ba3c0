"""Text into ids for an export artifact's runner: rnncli's tokenizers and its batching.

Copied into the artifact as rnncli_runner_text.py beside runner.py (numpy, and
sentencepiece for unigram/bpe tokenizers; nothing of rnncli).
"""

import json
import os
import re

import numpy as np

PAD, UNK, BOS, EOS = 0, 1, 2, 3
DIGITS = re.compile(r"\d")


class Tokenizer:
    """rnncli's char, word and sentencepiece tokenizers (ids 0-3: pad, unk, bos, eos)."""

    def __init__(self, directory):
        with open(os.path.join(directory, "tokenizer.json"), encoding="utf-8") as f:
            meta = json.load(f)
        self.kind = meta["kind"]
        if self.kind in ("unigram", "bpe"):
            import sentencepiece

            self.sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(directory, "spm.model"))
        else:
            self.symbols = meta["symbols"]
            self.index = {s: i for i, s in enumerate(self.symbols)}

    def encode(self, text):
        if self.kind in ("unigram", "bpe"):
            return self.sp.encode(text, out_type=int)
        pieces = text if self.kind == "char" else text.split()
        return [self.index.get(p, UNK) for p in pieces]

    def decode(self, ids):
        if self.kind in ("unigram", "bpe"):
            return self.sp.decode([int(i) for i in ids])
        if self.kind == "char":
            return "".join(self.symbols[i] if i >= 4 else "\ufffd" for i in ids if i >= 4 or i == UNK)
        return " ".join(self.symbols[i] for i in ids if i >= 4 or i == UNK)


def batches(lengths, size):
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + size] for i in range(0, len(order), size)]


def pad(rows, value=0):
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    out = np.full((len(rows), max(1, int(lengths.max(initial=0)))), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out, lengths
