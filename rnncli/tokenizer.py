"""The one tokenizer module for every task: character, word, and sentencepiece (unigram, BPE).

Every tokenizer reserves the same special ids: pad 0, unk 1, bos 2, eos 3. Sentencepiece
models are trained in-process from the training text, with identity normalisation and
no whitespace squeezing so that decode(encode(text)) == text; with a vocabulary large
enough they also fall back to UTF-8 bytes, so even unseen characters survive the trip.

A tokenizer saves itself into a directory (`tokenizer.json`, plus `spm.model` for
sentencepiece) and `load_tokenizer` reads it back: the checkpoint directory carries it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from rnncli.errors import CheckpointError, ConfigError

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<s>", "</s>")
KINDS = ("char", "word", "unigram", "bpe")
META_FILE = "tokenizer.json"
SPM_FILE = "spm.model"
# Below this size sentencepiece cannot hold the 256 byte pieces next to the alphabet.
BYTE_FALLBACK_MIN_VOCAB = 384


class Tokenizer:
    """Common interface. Subclasses implement encode/decode/id_to_piece and their state."""

    kind = "base"
    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(text) for text in texts]

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def id_to_piece(self, index: int) -> str:
        raise NotImplementedError

    def pieces(self, text: str) -> list[str]:
        return [self.id_to_piece(i) for i in self.encode(text)]

    def describe(self) -> dict:
        return {"kind": self.kind, "vocab_size": self.vocab_size}

    def save(self, directory: str | Path) -> None:
        raise NotImplementedError


class VocabTokenizer(Tokenizer):
    """A tokenizer over an explicit list of symbols (characters or words)."""

    def __init__(self, symbols: Sequence[str]):
        if tuple(symbols[:4]) != SPECIALS:
            raise ValueError("the first four symbols must be the special tokens")
        self.symbols = list(symbols)
        self.index = {s: i for i, s in enumerate(self.symbols)}

    @property
    def vocab_size(self) -> int:
        return len(self.symbols)

    def id_to_piece(self, index: int) -> str:
        return self.symbols[index]

    def lookup(self, symbol: str) -> int:
        return self.index.get(symbol, UNK_ID)

    def save(self, directory: str | Path) -> None:
        from rnncli.atomic import atomic_write_text

        meta = {"kind": self.kind, "symbols": self.symbols}
        atomic_write_text(Path(directory) / META_FILE, json.dumps(meta, ensure_ascii=False))


class CharTokenizer(VocabTokenizer):
    """One id per Unicode character; characters not seen in training map to <unk>."""

    kind = "char"

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int | None = None) -> "CharTokenizer":
        counts = Counter()
        for text in texts:
            counts.update(text)
        return cls(list(SPECIALS) + most_frequent(counts, vocab_size))

    def encode(self, text: str) -> list[int]:
        index = self.index
        return [index.get(ch, UNK_ID) for ch in text]

    def decode(self, ids: Iterable[int]) -> str:
        # An unknown character shows as U+FFFD, the usual mark for an unreadable character.
        symbols = self.symbols
        return "".join(symbols[i] if i >= len(SPECIALS) else "\ufffd" for i in ids if i >= len(SPECIALS) or i == UNK_ID)


class WordTokenizer(VocabTokenizer):
    """Whitespace-separated words with a frequency cut-off; decode joins with one space."""

    kind = "word"

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int | None = None,
              min_freq: int = 1) -> "WordTokenizer":
        counts = Counter()
        for text in texts:
            counts.update(text.split())
        kept = Counter({w: c for w, c in counts.items() if c >= min_freq})
        return cls(list(SPECIALS) + most_frequent(kept, vocab_size))

    def encode(self, text: str) -> list[int]:
        return self.encode_words(text.split())

    def encode_words(self, words: Sequence[str]) -> list[int]:
        index = self.index
        return [index.get(w, UNK_ID) for w in words]

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.symbols[i] for i in ids if i >= len(SPECIALS) or i == UNK_ID)


class SentencePieceTokenizer(Tokenizer):
    """Sentencepiece unigram or BPE model, trained in-process."""

    def __init__(self, model_bytes: bytes, kind: str):
        import sentencepiece as spm

        self.kind = kind
        self.model_bytes = model_bytes
        self.processor = spm.SentencePieceProcessor(model_proto=model_bytes)

    @classmethod
    def train(cls, texts: Iterable[str], kind: str, vocab_size: int) -> "SentencePieceTokenizer":
        import io

        import sentencepiece as spm

        lines = [line for line in texts if line.strip()]
        if not lines:
            raise ConfigError("cannot train a sentencepiece model on empty text")
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(lines), model_writer=model, model_type=kind,
                vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
                pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
                pad_piece=SPECIALS[0], unk_piece=SPECIALS[1], bos_piece=SPECIALS[2],
                eos_piece=SPECIALS[3], normalization_rule_name="identity",
                remove_extra_whitespaces=False, byte_fallback=vocab_size >= BYTE_FALLBACK_MIN_VOCAB,
                user_defined_symbols=["\n"], input_sentence_size=2_000_000,
                shuffle_input_sentence=True, max_sentence_length=1 << 16,
                num_threads=2, minloglevel=2)
        except RuntimeError as exc:
            raise ConfigError(f"sentencepiece could not train a {kind} model: {exc}") from None
        return cls(model.getvalue(), kind)

    @property
    def vocab_size(self) -> int:
        return self.processor.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.processor.encode(text, out_type=int)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return self.processor.encode(list(texts), out_type=int)

    def decode(self, ids: Iterable[int]) -> str:
        return self.processor.decode([int(i) for i in ids])

    def id_to_piece(self, index: int) -> str:
        return self.processor.id_to_piece(int(index))

    def save(self, directory: str | Path) -> None:
        from rnncli.atomic import atomic_write_bytes, atomic_write_text

        directory = Path(directory)
        atomic_write_bytes(directory / SPM_FILE, self.model_bytes)
        atomic_write_text(directory / META_FILE, json.dumps({"kind": self.kind}))


def most_frequent(counts: Counter, limit: int | None) -> list[str]:
    """Symbols by descending count, ties by symbol, so vocabularies are deterministic."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if limit is not None and limit <= len(SPECIALS):
        raise ConfigError(f"--vocab-size {limit} leaves no room beyond the {len(SPECIALS)} special tokens "
                          "(every token would be unknown); give a larger one")
    if limit is not None:
        ordered = ordered[: max(0, limit - len(SPECIALS))]
    return [symbol for symbol, _ in ordered]


def train_tokenizer(kind: str, texts: Sequence[str], vocab_size: int | None = None,
                    min_freq: int = 1) -> Tokenizer:
    """Build a tokenizer of `kind` from training texts (a list of lines or documents)."""
    if vocab_size is not None and vocab_size <= len(SPECIALS):
        raise ConfigError(f"--vocab-size {vocab_size} leaves no room beyond the {len(SPECIALS)} special tokens "
                          "(every token would be unknown); give a larger one")
    if kind == "char":
        return CharTokenizer.train(texts, vocab_size)
    if kind == "word":
        return WordTokenizer.train(texts, vocab_size, min_freq)
    if kind in ("unigram", "bpe"):
        return SentencePieceTokenizer.train(texts, kind, vocab_size or 8000)
    raise ConfigError(f"unknown tokenizer {kind!r}; choose one of {', '.join(KINDS)}")


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """Read a tokenizer saved by `Tokenizer.save`; any damage is a CheckpointError."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        kind = meta["kind"]
        if kind == "char":
            return CharTokenizer(meta["symbols"])
        if kind == "word":
            return WordTokenizer(meta["symbols"])
        if kind in ("unigram", "bpe"):
            return SentencePieceTokenizer((directory / SPM_FILE).read_bytes(), kind)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{exc.filename}: tokenizer file is missing") from None
    except (ValueError, KeyError, TypeError, RuntimeError, OSError, RecursionError) as exc:
        raise CheckpointError(f"{meta_path}: unreadable tokenizer ({exc})") from None
    raise CheckpointError(f"{meta_path}: unknown tokenizer kind {kind!r}")
