"""A trained encoder-decoder at work: translating lines, the output of `rnncli translate`
(text, or JSONL with n-best lists and scores; attention records), and scoring.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from rnncli.config import DecodeSettings, build
from rnncli.decoding.greedy import Hypothesis
from rnncli.decoding.shortlist import LEXICON_FILE, Lexicon
from rnncli.errors import CheckpointError, ConfigError, UsageError
from rnncli.tasks.translate import source_ids, translate_ids

OUTPUT_FORMATS = ("text", "jsonl")


@dataclass
class Candidate:
    text: str
    score: float        # length-penalised log-probability (what the beam ranks by)
    log_prob: float     # raw log-probability, </s> included


@dataclass
class Translation:
    text: str                   # the best candidate's text ("" for a blank line)
    n_best: list[Candidate]


def joined_hypothesis(parts: list[list[Hypothesis]]) -> Hypothesis:
    """The best hypotheses of consecutive pieces as one (scores add up)."""
    best = [hyps[0] for hyps in parts if hyps]
    return Hypothesis([t for h in best for t in h.tokens], sum(h.score for h in best),
                      sum(h.log_prob for h in best), None)


def load_translator(task, checkpoint, device: str = "auto", int8: bool = False, shortlist: bool = False,
                    **options: Any) -> "Translator":
    """Load for decoding; `int8` quantizes the per-step layers (CPU only, see core/quantized.py),
    and without it CPU decoding runs them as oneDNN-packed fp32 (core/packed.py) where this
    torch build has that; `shortlist` loads the vocabulary shortlist (decoding/shortlist.py)."""
    if options:
        raise UsageError(f"a translation model takes no loading option {sorted(options)[0]!r}")
    config, (src_tok, tgt_tok), model, torch_device = task.load_parts(checkpoint, device)
    lexicon = load_lexicon(Path(checkpoint)) if shortlist else None
    if int8:
        from rnncli.core.quantized import int8_available

        if torch_device.type != "cpu":
            raise ConfigError(f"--int8 is for CPU decoding; this run would use {torch_device.type} (add --device cpu)")
        if not int8_available():
            raise ConfigError("--int8: this torch build has no fbgemm int8 kernels")
        model.cpu().quantize_for_cpu()
    elif torch_device.type == "cpu":
        from rnncli.core.packed import packed_available

        if packed_available():
            model.pack_for_cpu()
    return Translator(config, src_tok, tgt_tok, model.to(torch_device).eval(), torch_device, lexicon)


def load_lexicon(checkpoint: Path) -> Lexicon:
    if not (checkpoint / LEXICON_FILE).is_file():
        raise ConfigError(f"{checkpoint}: has no {LEXICON_FILE} (trained before rnncli saved "
                          "shortlists); run without --shortlist, or retrain")
    try:
        return Lexicon.load(checkpoint)
    except Exception as exc:  # safetensors raises several types for a damaged file
        raise CheckpointError(f"{checkpoint / LEXICON_FILE}: corrupt shortlist ({type(exc).__name__})") from None


class Translator:
    """A loaded checkpoint: model in eval mode on its device, both tokenizers, and the
    shortlist when asked for."""

    task = "translate"

    def __init__(self, config: dict, src_tokenizer, tgt_tokenizer, model, device: torch.device,
                 lexicon: Lexicon | None = None):
        self.config, self.model, self.device, self.lexicon = config, model, device, lexicon
        self.src_tokenizer, self.tgt_tokenizer = src_tokenizer, tgt_tokenizer
        self.split_lines = 0   # input lines over the input limit, translated in pieces so far

    def input_limit(self, settings: DecodeSettings) -> int:
        """Source tokens per piece: --max-input-tokens, else twice the training --max-len
        (the model never saw longer sources; without a bound a huge line decodes for ever)."""
        return settings.max_input_tokens or 2 * int(self.config["options"]["max_len"])

    # ---- the plain Python API ----------------------------------------------------------
    def translate(self, lines: str | Sequence[str], **settings: Any) -> list[Translation]:
        """Translations in input order (settings: beam, n_best, length_penalty, batch_size,
        max_ratio, max_extra)."""
        lines = [lines] if isinstance(lines, str) else list(lines)
        hyps = self.hypotheses(lines, build(DecodeSettings, settings))
        return [self.translation(h) for h in hyps]

    def translation(self, hyps: list[Hypothesis]) -> Translation:
        n_best = [Candidate(self.text(h.tokens), h.score, h.log_prob) for h in hyps]
        return Translation(n_best[0].text if n_best else "", n_best)

    def text(self, ids: list[int]) -> str:
        """Detokenized output; a generated line break must not split the output line."""
        return self.tgt_tokenizer.decode(ids).replace("\r", " ").replace("\n", " ")

    def hypotheses(self, lines: Sequence[str], settings: DecodeSettings, attention: bool = False) -> list[list[Hypothesis]]:
        """Hypotheses per line. A line over the input limit is cut into pieces, each
        translated as a sentence; its result is the pieces' best outputs joined (1-best,
        no attention)."""
        src_ids = source_ids(self.src_tokenizer, lines)
        limit = self.input_limit(settings)
        if all(len(ids) - 1 <= limit for ids in src_ids):
            return translate_ids(self.model, src_ids, lines, self.device, settings, attention, self.lexicon)
        pieces, owners = [], []
        for index, ids in enumerate(src_ids):
            body = ids[:-1]
            self.split_lines += len(body) > limit
            for start in range(0, max(1, len(body)), limit):
                pieces.append(body[start:start + limit] + ids[-1:])
                owners.append(index)
        piece_hyps = translate_ids(self.model, pieces, [lines[o] for o in owners], self.device, settings,
                                   attention, self.lexicon)
        grouped: list[list[list[Hypothesis]]] = [[] for _ in lines]
        for owner, hyps in zip(owners, piece_hyps):
            grouped[owner].append(hyps)
        return [parts[0] if len(parts) == 1 else [joined_hypothesis(parts)] for parts in grouped]

    # ---- what `rnncli translate` writes --------------------------------------------------
    def output_line(self, hyps: list[Hypothesis], output_format: str) -> str:
        if output_format == "text":
            return self.text(hyps[0].tokens) if hyps else ""
        nbest = [{"text": self.text(h.tokens), "score": round(h.score, 4), "log_prob": round(h.log_prob, 4)}
                 for h in hyps]
        return json.dumps({"translation": nbest[0]["text"] if nbest else "", "n_best": nbest}, ensure_ascii=False)

    def attention_record(self, line_number: int, line: str, hyp: Hypothesis) -> dict[str, Any]:
        """Pieces on both sides (</s> included) and the weights, target rows x source columns."""
        src_pieces = self.src_tokenizer.pieces(line) + ["</s>"]
        tgt_pieces = [self.tgt_tokenizer.id_to_piece(i) for i in hyp.tokens] + ["</s>"]
        weights = [[round(w, 4) for w in row] for row in hyp.attention.tolist()]
        return {"line": line_number, "source": src_pieces, "target": tgt_pieces, "weights": weights}

    # ---- scoring -------------------------------------------------------------------------
    def evaluate(self, data: Sequence[str], decode: DecodeSettings | None = None, **options: Any) -> dict[str, Any]:
        """`rnncli eval CKPT SRC REF [REF...]`: translate SRC and score it against REF(s)."""
        from rnncli.metrics.translation import translation_scores
        from rnncli.readers.parallel import read_references
        from rnncli.readers.text import read_lines

        if len(data) < 2:
            raise UsageError("a translation model is evaluated on a source and a reference: rnncli eval CKPT SRC REF")
        decode = decode or DecodeSettings()
        src_path, ref_paths = data[0], data[1:]
        lines = read_lines(src_path)
        refs = read_references(ref_paths, len(lines), src_path)
        hyps = self.hypotheses(lines, DecodeSettings(**{**decode.to_dict(), "n_best": 1}))
        texts = [self.tgt_tokenizer.decode(h[0].tokens) if h else "" for h in hyps]
        return {**translation_scores(texts, refs), "beam": decode.beam, "length_penalty": decode.length_penalty,
                "int8": decode.int8, "shortlist": decode.shortlist}


def evaluate_output_files(hyp: str, refs: Sequence[str]) -> dict[str, Any]:
    """`rnncli eval --hyp HYP --ref REF [REF...]`: score existing output; line counts must match."""
    from rnncli.metrics.translation import translation_scores
    from rnncli.readers.parallel import read_references
    from rnncli.readers.text import read_lines

    hyps = read_lines(hyp, allow_empty=True)
    return translation_scores(hyps, read_references(refs, len(hyps), hyp))
