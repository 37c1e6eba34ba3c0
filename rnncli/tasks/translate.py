"""Translation (many-to-many, unequal length): train the attention encoder-decoder, decode
with greedy or beam search (the predictor is in tasks/translate_output.py).

Ids: source = pieces + </s>; decoder input = <s> + pieces; decoder target = pieces + </s>.
Training batches hold sentences of one source length under a padded-token budget
(batching.equal_key_batches), so the encoder runs unpacked; they are a pure function of
(seed, epoch). Validation decodes the validation set greedily and scores it with
sacreBLEU; the best checkpoint is the one with the best validation BLEU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from rnncli.batching import equal_key_batches, inference_batches, pad
from rnncli.checkpoint import fingerprint, read_config
from rnncli.config import DecodeSettings
from rnncli.decoding.beam import beam_search
from rnncli.decoding.greedy import Hypothesis, greedy_search
from rnncli.decoding.shortlist import Lexicon, ShortlistedModel, build_lexicon
from rnncli.errors import DataError
from rnncli.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnncli.readers.parallel import filter_by_length, read_parallel
from rnncli.tasks.base import Task, check_same_data, tokenizer_dir
from rnncli.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer, load_tokenizer, train_tokenizer


def source_ids(tokenizer: Tokenizer, lines: Sequence[str]) -> list[list[int]]:
    return [ids + [EOS_ID] for ids in tokenizer.encode_batch(list(lines))]


def make_batch(src: list[list[int]], tgt: list[list[int]]) -> dict[str, torch.Tensor]:
    """src ids (with </s>) and raw target ids -> padded tensors for `translation_loss`."""
    src_ids, src_lengths = pad(src, PAD_ID)
    tgt_in, _ = pad([[BOS_ID] + t for t in tgt], PAD_ID)
    tgt_out, _ = pad([t + [EOS_ID] for t in tgt], PAD_ID)
    return {"src": src_ids, "src_lengths": src_lengths, "tgt_in": tgt_in, "tgt_out": tgt_out}


def translation_loss(model, batch: dict[str, torch.Tensor], label_smoothing: float) -> tuple[torch.Tensor, int]:
    """One fused cross-entropy over the real (non-pad) target positions only."""
    mask = batch["tgt_out"] != PAD_ID
    loss = model(batch["src"], batch["src_lengths"], batch["tgt_in"], mask, batch["tgt_out"][mask], label_smoothing)
    return loss, int(mask.sum())


def training_ids(train, src_tok: Tokenizer, tgt_tok: Tokenizer,
                 max_len: int) -> tuple[list[list[int]], list[list[int]], int]:
    """Tokenized training pairs within max_len (sources end in </s>), and how many were dropped."""
    src_raw, tgt_ids = src_tok.encode_batch(train.src), tgt_tok.encode_batch(train.tgt)
    kept, dropped = filter_by_length(src_raw, tgt_ids, max_len)
    return [src_raw[i] + [EOS_ID] for i in kept], [tgt_ids[i] for i in kept], dropped


def decode_batch(model: Seq2Seq, src: list[list[int]], device: torch.device, settings: DecodeSettings,
                 attention: bool = False, lexicon: Lexicon | None = None) -> list[list[Hypothesis]]:
    """Translate one batch of source id lists (each ending in </s>); with a lexicon, only
    its shortlist for this batch is scored."""
    ids, lengths = pad(src, PAD_ID)
    searched = model if lexicon is None else ShortlistedModel(model, lexicon.vocabulary(ids).to(device))
    ids, lengths = ids.to(device), lengths.to(device)
    search = greedy_search if settings.beam == 1 else beam_search
    hyps = search(searched, ids, lengths, settings, attention)
    return hyps if lexicon is None else searched.token_ids(hyps)


def translate_ids(model: Seq2Seq, src_ids: list[list[int]], lines: Sequence[str], device: torch.device,
                  settings: DecodeSettings, attention: bool = False,
                  lexicon: Lexicon | None = None) -> list[list[Hypothesis]]:
    """Hypotheses per input line, in input order; a blank line gets [] (an empty output).

    Sentences are decoded in length-sorted batches (little padding, similar output lengths)
    and written back to their input positions."""
    results: list[list[Hypothesis]] = [[] for _ in src_ids]
    todo = [i for i, line in enumerate(lines) if line.strip()]
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for group in inference_batches([len(src_ids[i]) for i in todo], settings.batch_size):
            indices = [todo[g] for g in group]
            hyps = decode_batch(model, [src_ids[i] for i in indices], device, settings, attention, lexicon)
            for index, hyp in zip(indices, hyps):
                results[index] = hyp
    model.train(was_training)
    return results


class TranslateTask(Task):
    name, metric, maximize, unit = "translate", "bleu", True, "tgt tokens"
    model_class, model_config = Seq2Seq, Seq2SeqConfig

    def read_data(self, sources) -> None:
        self.train_set = read_parallel(sources["train_src"], sources["train_tgt"], skip_empty=True)
        self.valid_set = read_parallel(sources["valid_src"], sources["valid_tgt"], skip_empty=False)
        if self.train_set.skipped_empty:
            self.notes.append(f"skipped {self.train_set.skipped_empty:,} training pair(s) with an empty side")

    def build_tokenizers(self) -> tuple[Tokenizer, Tokenizer]:
        s, train = self.settings, self.train_set
        if s.joint_vocab:
            joint = train_tokenizer(s.tokenizer, train.src + train.tgt, s.vocab_size)
            return joint, joint
        return train_tokenizer(s.tokenizer, train.src, s.vocab_size), train_tokenizer(s.tokenizer, train.tgt, s.vocab_size)

    @classmethod
    def load_tokenizers(cls, directory: Path, config: dict[str, Any]) -> tuple[Tokenizer, Tokenizer]:
        if config["options"]["joint_vocab"]:
            tok = load_tokenizer(tokenizer_dir(directory))
            return tok, tok
        return load_tokenizer(tokenizer_dir(directory, "src")), load_tokenizer(tokenizer_dir(directory, "tgt"))

    def build_model(self) -> Seq2Seq:
        s, (src_tok, tgt_tok) = self.settings, self.vocab
        self.src_ids, self.tgt_ids, self.dropped = training_ids(self.train_set, src_tok, tgt_tok, s.max_len)
        if self.dropped:
            self.notes.append(f"dropped {self.dropped:,} training pair(s) longer than --max-len {s.max_len} tokens")
        if not self.src_ids:
            raise DataError(f"every training pair is longer than --max-len {s.max_len} tokens; raise --max-len")
        self.valid_src_ids = source_ids(src_tok, self.valid_set.src)
        self.lengths = [max(len(x), len(y) + 1) for x, y in zip(self.src_ids, self.tgt_ids)]
        self.src_lengths = [len(x) for x in self.src_ids]
        return Seq2Seq(Seq2SeqConfig(
            src_vocab=src_tok.vocab_size, tgt_vocab=tgt_tok.vocab_size, cell=s.cell, layers=s.layers,
            hidden=s.hidden, embed=s.embed, dropout=s.dropout, bidirectional=s.bidirectional,
            attention=s.attention, tie_embeddings=s.tie_embeddings, share_embeddings=s.joint_vocab,
            layer_norm=s.layer_norm, encoder_hidden=s.encoder_hidden))

    def epoch_batches(self, epoch: int) -> list[dict[str, torch.Tensor]]:
        groups = equal_key_batches(self.src_lengths, self.lengths, self.train.seed, epoch, self.settings.max_tokens,
                                   self.train.batch_size)
        return [make_batch([self.src_ids[i] for i in g], [self.tgt_ids[i] for i in g]) for g in groups]

    def loss(self, model, batch):
        return translation_loss(model, batch, self.settings.label_smoothing)

    def evaluate(self, model, device) -> dict[str, float]:
        from rnncli.metrics.translation import translation_scores

        greedy = DecodeSettings(beam=1, batch_size=self.settings.eval_batch_size)
        hyps = translate_ids(model, self.valid_src_ids, self.valid_set.src, device, greedy)
        texts = [self.vocab[1].decode(h[0].tokens) if h else "" for h in hyps]
        scores = translation_scores(texts, [self.valid_set.tgt], bootstrap=0)
        return {"bleu": scores["bleu"], "chrf": scores["chrf"]}

    def describe(self) -> dict[str, Any]:
        src_tok, tgt_tok = self.vocab
        return {"tokenizer": {"joint": self.settings.joint_vocab, "src": src_tok.describe(), "tgt": tgt_tok.describe()},
                "filtering": {"skipped_empty": self.train_set.skipped_empty, "dropped_long": self.dropped}}

    def save_files(self, directory: Path) -> None:
        src_tok, tgt_tok = self.vocab
        if self.settings.joint_vocab:
            src_tok.save(tokenizer_dir(directory))
        else:
            for name, tokenizer in (("src", src_tok), ("tgt", tgt_tok)):
                tokenizer_dir(directory, name).mkdir(parents=True, exist_ok=True)
                tokenizer.save(tokenizer_dir(directory, name))
        build_lexicon(self.src_ids, self.tgt_ids, src_tok.vocab_size, tgt_tok.vocab_size).save(directory)

    @classmethod
    def load(cls, checkpoint, device: str = "auto", int8: bool = False, shortlist: bool = False, **options):
        from rnncli.tasks.translate_output import load_translator

        return load_translator(cls, checkpoint, device, int8, shortlist, **options)

    @classmethod
    def evaluate_checkpoint(cls, checkpoint: Path, data: list[str], device: str = "auto", **options: Any):
        """Decoding options (beam, length_penalty, batch_size, int8, shortlist, ...) as for
        `rnncli translate`; the others are ignored."""
        names = DecodeSettings.names()
        decode = DecodeSettings(**{k: v for k, v in options.items() if k in names and v is not None})
        return cls.load(checkpoint, device, int8=decode.int8, shortlist=decode.shortlist).evaluate(data, decode)


def write_lexicon(checkpoint: Path) -> None:
    """Add the vocabulary shortlist to a checkpoint trained before rnncli saved one, from
    its recorded training data (which must not have changed since)."""
    config = read_config(checkpoint, TranslateTask.name)
    paths = {name: Path(config["data"][name]["path"]) for name in ("train_src", "train_tgt")}
    check_same_data({k: config["data"][k] for k in paths}, {name: fingerprint(path) for name, path in paths.items()})
    src_tok, tgt_tok = TranslateTask.load_tokenizers(Path(checkpoint), config)
    train = read_parallel(paths["train_src"], paths["train_tgt"], skip_empty=True)
    src_ids, tgt_ids, _ = training_ids(train, src_tok, tgt_tok, config["options"]["max_len"])
    build_lexicon(src_ids, tgt_ids, src_tok.vocab_size, tgt_tok.vocab_size).save(checkpoint)


TASK = TranslateTask
