"""Translation (many-to-many, unequal length): train the attention encoder-decoder, translate
with greedy or beam search, score with sacreBLEU.

Ids: source = pieces + </s>; decoder input = <s> + pieces; decoder target = pieces + </s>.
Training batches hold sentences of one source length under a padded-token budget
(batching.equal_key_batches), so the encoder runs unpacked; they are a pure function of
(seed, epoch). Validation decodes the validation set greedily and
scores it with sacreBLEU; the best checkpoint is the one with the best validation BLEU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from rnncli.batching import equal_key_batches, inference_batches, pad
from rnncli.checkpoint import fingerprint, load_weights, read_config
from rnncli.config import check_positive
from rnncli.core.attention import KINDS as ATTENTION_KINDS
from rnncli.core.losses import smoothed_cross_entropy
from rnncli.decoding.beam import beam_search
from rnncli.decoding.greedy import Hypothesis, greedy_search
from rnncli.decoding.shortlist import LEXICON_FILE, Lexicon, ShortlistedModel, build_lexicon
from rnncli.errors import ConfigError
from rnncli.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnncli.readers.parallel import filter_by_length, read_parallel
from rnncli.runtime import keep_freed_memory, pick_device, seed_everything
from rnncli.tasks.common import (check_out_dir, checkpoint_config, open_checkpoint, resolve_options,
                                 run_training, tokenizer_dir)
from rnncli.tasks.common import check_same_data
from rnncli.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer, load_tokenizer, train_tokenizer
from rnncli.training import Notice, TrainJob

TASK = "translate"
TASK_DEFAULTS: dict[str, Any] = {
    "tokenizer": "unigram", "vocab_size": 8000, "embed": 256, "hidden": 256, "layers": 1,
    "bidirectional": True, "dropout": 0.25, "batch_size": 64, "lr": 2e-3, "warmup": 200,
    "epochs": 40, "attention": "luong-general", "label_smoothing": 0.1, "max_len": 100,
    "joint_vocab": True, "max_tokens": 3000, "eval_batch_size": 128, "encoder_hidden": None,
}
MAX_RATIO, MAX_EXTRA = 2.0, 10   # output length limit: 2 x source pieces + 10


@dataclass
class Translator:
    """A loaded checkpoint: model in eval mode on its device, and both tokenizers."""

    model: Seq2Seq
    src_tokenizer: Tokenizer
    tgt_tokenizer: Tokenizer
    config: dict
    device: torch.device
    lexicon: Lexicon | None = None   # with --shortlist


# ---- tokenizers and ids --------------------------------------------------------------------
def build_tokenizers(options: dict[str, Any], src: list[str], tgt: list[str]) -> tuple[Tokenizer, Tokenizer]:
    kind, size = options["tokenizer"], options["vocab_size"]
    if options["joint_vocab"]:
        joint = train_tokenizer(kind, src + tgt, size)
        return joint, joint
    return train_tokenizer(kind, src, size), train_tokenizer(kind, tgt, size)


def save_tokenizers(directory: Path, src_tok: Tokenizer, tgt_tok: Tokenizer, joint: bool) -> None:
    if joint:
        src_tok.save(tokenizer_dir(directory))
    else:
        src_tok.save(tokenizer_dir(directory, "src"))
        tgt_tok.save(tokenizer_dir(directory, "tgt"))


def load_tokenizers(directory: Path, joint: bool) -> tuple[Tokenizer, Tokenizer]:
    if joint:
        tok = load_tokenizer(tokenizer_dir(directory))
        return tok, tok
    return load_tokenizer(tokenizer_dir(directory, "src")), load_tokenizer(tokenizer_dir(directory, "tgt"))


def source_ids(tokenizer: Tokenizer, lines: Sequence[str]) -> list[list[int]]:
    return [ids + [EOS_ID] for ids in tokenizer.encode_batch(list(lines))]


# ---- training ------------------------------------------------------------------------------
def make_batch(src: list[list[int]], tgt: list[list[int]]) -> dict[str, torch.Tensor]:
    """src ids (with </s>) and raw target ids -> padded tensors for `translation_loss`."""
    src_ids, src_lengths = pad(src, PAD_ID)
    tgt_in, _ = pad([[BOS_ID] + t for t in tgt], PAD_ID)
    tgt_out, _ = pad([t + [EOS_ID] for t in tgt], PAD_ID)
    return {"src": src_ids, "src_lengths": src_lengths, "tgt_in": tgt_in, "tgt_out": tgt_out}


def loss_function(label_smoothing: float):
    def translation_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
        """One fused cross-entropy over the real (non-pad) target positions only."""
        mask = batch["tgt_out"] != PAD_ID
        logits = model(batch["src"], batch["src_lengths"], batch["tgt_in"], mask)
        loss = smoothed_cross_entropy(logits, batch["tgt_out"][mask], label_smoothing)
        return loss, int(mask.sum())
    return translation_loss


def epoch_batches_fn(src: list[list[int]], tgt: list[list[int]], options: dict[str, Any]):
    lengths = [max(len(s), len(t) + 1) for s, t in zip(src, tgt)]
    src_lengths = [len(s) for s in src]

    def epoch_batches(epoch: int) -> list[dict[str, torch.Tensor]]:
        groups = equal_key_batches(src_lengths, lengths, options["seed"], epoch, options["max_tokens"],
                                   options["batch_size"])
        return [make_batch([src[i] for i in g], [tgt[i] for i in g]) for g in groups]
    return epoch_batches


def build_model(options: dict[str, Any], src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    if options["attention"] not in ATTENTION_KINDS:
        raise ConfigError(f"--attention {options['attention']!r} is not one of: {', '.join(ATTENTION_KINDS)}")
    if not 0.0 <= options["label_smoothing"] < 1.0:
        raise ConfigError("--label-smoothing must be in [0, 1)")
    if options.get("encoder_hidden") is not None:
        check_positive("encoder_hidden", options["encoder_hidden"])
    return Seq2Seq(Seq2SeqConfig(
        src_vocab=src_vocab, tgt_vocab=tgt_vocab, cell=options["cell"], layers=options["layers"],
        hidden=options["hidden"], embed=options["embed"], dropout=options["dropout"],
        bidirectional=options["bidirectional"], attention=options["attention"],
        tie_embeddings=options["tie_embeddings"], share_embeddings=options["joint_vocab"],
        layer_norm=options["layer_norm"], encoder_hidden=options.get("encoder_hidden")))


def train_translate(given: dict[str, Any], paths: dict[str, Path], out: Path, resume: bool) -> Iterator[Any]:
    """Train a translation model; paths has train_src, train_tgt, valid_src, valid_tgt."""
    check_out_dir(out, resume)
    options = resolve_options(given, TASK_DEFAULTS, out, resume)
    train = read_parallel(paths["train_src"], paths["train_tgt"], skip_empty=True)
    valid = read_parallel(paths["valid_src"], paths["valid_tgt"], skip_empty=False)
    if train.skipped_empty:
        yield Notice(f"skipped {train.skipped_empty:,} training pair(s) with an empty side")
    data = {name: fingerprint(path) for name, path in paths.items()}
    if resume:
        check_same_data(read_config(out)["data"], data)
    seed_everything(options["seed"])
    src_tok, tgt_tok = (load_tokenizers(out, options["joint_vocab"]) if resume
                        else build_tokenizers(options, train.src, train.tgt))
    src_ids, tgt_ids, dropped = training_ids(train, src_tok, tgt_tok, options["max_len"])
    if dropped:
        yield Notice(f"dropped {dropped:,} training pair(s) longer than --max-len {options['max_len']} tokens")
    model = build_model(options, src_tok.vocab_size, tgt_tok.vocab_size)
    valid_src_ids = source_ids(src_tok, valid.src)

    def evaluate(model, device):
        from rnncli.metrics.translation import translation_scores

        hyps = translate_ids(model, valid_src_ids, valid.src, device, beam=1,
                             batch_size=options["eval_batch_size"])
        texts = [tgt_tok.decode(h[0].tokens) if h else "" for h in hyps]
        scores = translation_scores(texts, [valid.tgt], bootstrap=0)
        return {"bleu": scores["bleu"], "chrf": scores["chrf"]}

    job = TrainJob(model=model, loss=loss_function(options["label_smoothing"]),
                   epoch_batches=epoch_batches_fn(src_ids, tgt_ids, options), evaluate=evaluate,
                   metric="bleu", maximize=True, unit="tgt tokens")
    tokenizer_info = {"joint": options["joint_vocab"], "src": src_tok.describe(), "tgt": tgt_tok.describe()}
    config = checkpoint_config(TASK, options, model.config.to_dict(), data, tokenizer=tokenizer_info,
                               filtering={"skipped_empty": train.skipped_empty, "dropped_long": dropped})

    def save_files(directory: Path) -> None:
        save_tokenizers(directory, src_tok, tgt_tok, options["joint_vocab"])
        build_lexicon(src_ids, tgt_ids, src_tok.vocab_size, tgt_tok.vocab_size).save(directory)

    writer = open_checkpoint(out, config, save_files, resume)
    yield from run_training(job, options, out, writer, resume)


def training_ids(train, src_tok: Tokenizer, tgt_tok: Tokenizer,
                 max_len: int) -> tuple[list[list[int]], list[list[int]], int]:
    """Tokenized training pairs within max_len (sources end in </s>), and how many were dropped."""
    src_raw, tgt_ids = src_tok.encode_batch(train.src), tgt_tok.encode_batch(train.tgt)
    kept, dropped = filter_by_length(src_raw, tgt_ids, max_len)
    return [src_raw[i] + [EOS_ID] for i in kept], [tgt_ids[i] for i in kept], dropped


def write_lexicon(checkpoint: Path) -> None:
    """Add the vocabulary shortlist to a checkpoint trained before rnncli saved one, from
    its recorded training data (which must not have changed since)."""
    config = read_config(checkpoint, TASK)
    paths = {name: Path(config["data"][name]["path"]) for name in ("train_src", "train_tgt")}
    check_same_data(config["data"], {name: fingerprint(path) for name, path in paths.items()})
    options = config["options"]
    src_tok, tgt_tok = load_tokenizers(Path(checkpoint), options["joint_vocab"])
    train = read_parallel(paths["train_src"], paths["train_tgt"], skip_empty=True)
    src_ids, tgt_ids, _ = training_ids(train, src_tok, tgt_tok, options["max_len"])
    build_lexicon(src_ids, tgt_ids, src_tok.vocab_size, tgt_tok.vocab_size).save(checkpoint)


# ---- inference -----------------------------------------------------------------------------
def load_translator(checkpoint: Path, device_name: str = "auto", int8: bool = False,
                    shortlist: bool = False) -> Translator:
    """Load for decoding; `int8` quantizes the per-step layers (CPU only, see core/quantized.py);
    `shortlist` loads the vocabulary shortlist (decoding/shortlist.py)."""
    config = read_config(checkpoint, TASK)
    lexicon = None
    if shortlist:
        if not (Path(checkpoint) / LEXICON_FILE).is_file():
            raise ConfigError(f"{checkpoint}: has no {LEXICON_FILE} (trained before rnncli saved "
                              "shortlists); run without --shortlist, or retrain")
        lexicon = Lexicon.load(checkpoint)
    src_tok, tgt_tok = load_tokenizers(Path(checkpoint), config["options"]["joint_vocab"])
    model = Seq2Seq(Seq2SeqConfig.from_dict(config["model"]))
    load_weights(checkpoint, model)
    device = pick_device(device_name)
    if device.type == "cpu":
        keep_freed_memory()   # each decoding step allocates logits of the same large size
    if int8:
        from rnncli.core.quantized import int8_available

        if device.type != "cpu":
            raise ConfigError(f"--int8 is for CPU decoding; this run would use {device.type} (add --device cpu)")
        if not int8_available():
            raise ConfigError("--int8: this torch build has no fbgemm int8 kernels")
        model.quantize_for_cpu()
    return Translator(model.to(device).eval(), src_tok, tgt_tok, config, device, lexicon)


def decode_batch(model: Seq2Seq, src: list[list[int]], device: torch.device, beam: int = 1,
                 n_best: int = 1, length_penalty: float = 0.0, attention: bool = False,
                 lexicon: Lexicon | None = None) -> list[list[Hypothesis]]:
    """Translate one batch of source id lists (each ending in </s>); with a lexicon, only
    its shortlist for this batch is scored."""
    ids, lengths = pad(src, PAD_ID)
    searched = model if lexicon is None else ShortlistedModel(model, lexicon.vocabulary(ids).to(device))
    ids, lengths = ids.to(device), lengths.to(device)
    if beam == 1:
        hyps = greedy_search(searched, ids, lengths, MAX_RATIO, MAX_EXTRA, length_penalty, attention)
    else:
        hyps = beam_search(searched, ids, lengths, beam, n_best, length_penalty, MAX_RATIO, MAX_EXTRA, attention)
    return hyps if lexicon is None else searched.token_ids(hyps)


def translate_ids(model: Seq2Seq, src_ids: list[list[int]], lines: Sequence[str], device: torch.device,
                  beam: int = 1, n_best: int = 1, length_penalty: float = 0.0, batch_size: int = 64,
                  attention: bool = False, lexicon: Lexicon | None = None) -> list[list[Hypothesis]]:
    """Hypotheses per input line, in input order; a blank line gets [] (an empty output).

    Sentences are decoded in length-sorted batches (little padding, similar output lengths)
    and written back to their input positions."""
    results: list[list[Hypothesis]] = [[] for _ in src_ids]
    todo = [i for i, line in enumerate(lines) if line.strip()]
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for group in inference_batches([len(src_ids[i]) for i in todo], batch_size):
            indices = [todo[g] for g in group]
            hyps = decode_batch(model, [src_ids[i] for i in indices], device, beam, n_best,
                                length_penalty, attention, lexicon)
            for index, hyp in zip(indices, hyps):
                results[index] = hyp
    model.train(was_training)
    return results


def translate_lines(translator: Translator, lines: Sequence[str], beam: int = 5, n_best: int = 1,
                    length_penalty: float = 0.6, batch_size: int = 64,
                    attention: bool = False) -> list[list[Hypothesis]]:
    src_ids = source_ids(translator.src_tokenizer, lines)
    return translate_ids(translator.model, src_ids, lines, translator.device, beam, n_best,
                         length_penalty, batch_size, attention, translator.lexicon)


def evaluate_translation(checkpoint: Path, src_path: Path, ref_paths: Sequence[Path], beam: int,
                         length_penalty: float, batch_size: int, device_name: str,
                         int8: bool = False, shortlist: bool = False) -> dict[str, Any]:
    """Translate SRC and score it against the reference file(s) with sacreBLEU."""
    from rnncli.metrics.translation import translation_scores
    from rnncli.readers.parallel import read_references
    from rnncli.readers.text import read_lines

    translator = load_translator(checkpoint, device_name, int8, shortlist)
    lines = read_lines(src_path)
    refs = read_references(ref_paths, len(lines), src_path)
    hyps = translate_lines(translator, lines, beam, 1, length_penalty, batch_size)
    texts = [translator.tgt_tokenizer.decode(h[0].tokens) if h else "" for h in hyps]
    return {**translation_scores(texts, refs), "beam": beam, "length_penalty": length_penalty, "int8": int8,
            "shortlist": shortlist}
