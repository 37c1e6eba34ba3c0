"""`rnncli train translate`, `rnncli translate`, and the translation part of `rnncli eval`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Iterator, Optional

import typer

from rnncli.cli.common import BatchSizeOpt, CkptArg, DeviceOpt, InputArg, OutputOpt, QuietOpt, stderr_console
from rnncli.cli.streams import chunked, output_stream
from rnncli.cli.train_options import training_command

OUTPUT_FORMATS = ("text", "jsonl")


def file_opt(name: str, help: str) -> Any:
    return Annotated[Path, typer.Option(name, help=help, show_default=False)]


@training_command
def train_translate_cli(
    train_src: file_opt("--train-src", "Training source text, one sentence per line."),
    train_tgt: file_opt("--train-tgt", "Training target text, aligned with --train-src by line."),
    valid_src: file_opt("--valid-src", "Validation source text."),
    valid_tgt: file_opt("--valid-tgt", "Validation target text (scored with sacreBLEU)."),
    out: file_opt("--out", "Checkpoint directory to write."),
    attention: Annotated[Optional[str], typer.Option("--attention", help="bahdanau|luong-dot|luong-general (default luong-general).", show_default=False)] = None,
    label_smoothing: Annotated[Optional[float], typer.Option("--label-smoothing", help="Label smoothing of the loss (default 0.1).", show_default=False)] = None,
    max_len: Annotated[Optional[int], typer.Option("--max-len", help="Drop training pairs with a side longer than this many tokens (default 100).", show_default=False)] = None,
    max_tokens: Annotated[Optional[int], typer.Option("--max-tokens", help="Padded tokens per training batch (default 3000).", show_default=False)] = None,
    encoder_hidden: Annotated[Optional[int], typer.Option("--encoder-hidden", help="Encoder units per direction (default: --hidden). OpenNMT-py's -brnn uses --hidden/2.", show_default=False)] = None,
    joint_vocab: Annotated[Optional[bool], typer.Option("--joint-vocab/--separate-vocab", help="One sentencepiece model for both sides (default), or one per side.", show_default=False)] = None,
    options: dict = None,
) -> None:
    from rnncli.cli.train_view import render_training
    from rnncli.tasks.translate import train_translate

    given = {**options, "attention": attention, "label_smoothing": label_smoothing, "max_len": max_len,
             "max_tokens": max_tokens, "joint_vocab": joint_vocab, "encoder_hidden": encoder_hidden}
    paths = {"train_src": train_src, "train_tgt": train_tgt, "valid_src": valid_src, "valid_tgt": valid_tgt}
    events = train_translate(given, paths, out, options["resume"])
    render_training(events, quiet=options["quiet"], as_json=options["json"])


def translate_cli(
    checkpoint: CkptArg,
    input: InputArg = "-",
    output: OutputOpt = None,
    beam: Annotated[int, typer.Option("--beam", min=1, help="Beam size (1: greedy).")] = 5,
    n_best: Annotated[int, typer.Option("--n-best", min=1, help="Hypotheses per sentence (needs --output-format jsonl).")] = 1,
    length_penalty: Annotated[float, typer.Option("--length-penalty", min=0.0, help="GNMT length penalty alpha (0: none).")] = 0.6,
    batch_size: BatchSizeOpt = 64,
    output_format: Annotated[str, typer.Option("--output-format", help="text: one translation per line; jsonl: n-best with scores.")] = "text",
    show_attention: Annotated[bool, typer.Option("--show-attention", help="Draw each sentence's attention as a heatmap on stderr.")] = False,
    attention_out: Annotated[Optional[Path], typer.Option("--attention-out", help="Write attention matrices to this JSONL file.")] = None,
    device: DeviceOpt = "auto",
    int8: Annotated[bool, typer.Option("--int8", help="Int8 output, combine and decoder-LSTM weights on CPU: ~1.5x faster beam search, BLEU within ~0.2 on Multi30k.")] = False,
    shortlist: Annotated[bool, typer.Option("--shortlist", help="Score only a shortlist of likely target pieces per batch (saved at training): ~1.5x faster beam search on CPU, BLEU within ~0.3 on Multi30k.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Translate INPUT line by line: one output line per input line, in order."""
    from rnncli.errors import UsageError
    from rnncli.tasks.translate import load_translator, translate_lines

    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--output-format {output_format!r} is not one of: {', '.join(OUTPUT_FORMATS)}")
    if n_best > beam:
        raise UsageError(f"--n-best {n_best} cannot exceed --beam {beam}")
    if n_best > 1 and output_format == "text":
        raise UsageError("--n-best above 1 needs --output-format jsonl (text output is one line per input)")
    translator = load_translator(checkpoint, device, int8, shortlist)
    settings = dict(beam=beam, n_best=n_best, length_penalty=length_penalty, batch_size=batch_size,
                    attention=show_attention or attention_out is not None)
    console = stderr_console(quiet)
    first_line = 1
    with output_stream(output) as out, output_stream(attention_out, default=None) as attn_out:
        for chunk in read_chunks(input, batch_size):
            hyps = translate_lines(translator, chunk, **settings)
            for offset, (line, hyp) in enumerate(zip(chunk, hyps)):
                out.write(format_line(translator, hyp, output_format) + "\n")
                if hyp and settings["attention"]:
                    record = attention_record(translator, first_line + offset, line, hyp[0])
                    if attn_out is not None:
                        attn_out.write(json.dumps(record, ensure_ascii=False) + "\n")
                    if show_attention:
                        console.print(heatmap(record))
            out.flush()
            first_line += len(chunk)


def read_chunks(input: str, batch_size: int) -> Iterator[list[str]]:
    """A file: all its lines at once (sorted decoding over the whole file is fastest).
    stdin: batches of up to --batch-size lines, cut early when no more input is waiting,
    so output flows while input still arrives."""
    from rnncli.readers.text import STDIN, iter_lines, read_lines

    if input != STDIN:
        lines = read_lines(input, allow_empty=True)
        if lines:
            yield lines
        return
    yield from chunked((line for _, line in iter_lines(STDIN)), batch_size, from_stdin=True)


def format_line(translator, hyps: list, output_format: str) -> str:
    def decode(ids: list[int]) -> str:  # a generated line break must not split the output line
        return translator.tgt_tokenizer.decode(ids).replace("\r", " ").replace("\n", " ")
    if output_format == "text":
        return decode(hyps[0].tokens) if hyps else ""
    nbest = [{"text": decode(h.tokens), "score": round(h.score, 4), "log_prob": round(h.log_prob, 4)}
             for h in hyps]
    return json.dumps({"translation": nbest[0]["text"] if nbest else "", "n_best": nbest}, ensure_ascii=False)


def attention_record(translator, line_number: int, line: str, hyp) -> dict[str, Any]:
    """Pieces on both sides (</s> included) and the weights, target rows x source columns."""
    src_pieces = translator.src_tokenizer.pieces(line) + ["</s>"]
    tgt_pieces = [translator.tgt_tokenizer.id_to_piece(i) for i in hyp.tokens] + ["</s>"]
    weights = [[round(w, 4) for w in row] for row in hyp.attention.tolist()]
    return {"line": line_number, "source": src_pieces, "target": tgt_pieces, "weights": weights}


def heatmap(record: dict[str, Any]):
    from rnncli.cli.attention_view import attention_heatmap

    return attention_heatmap(record["source"], record["target"], record["weights"],
                             title=f"line {record['line']}")


# ---- rnncli eval ---------------------------------------------------------------------------
def evaluate_checkpoint(checkpoint: Path, data: list[str], opts) -> dict[str, Any]:
    """`rnncli eval CKPT SRC REF [REF...]`: translate SRC and score it against REF."""
    from rnncli.errors import UsageError
    from rnncli.tasks.translate import evaluate_translation

    if len(data) < 2:
        raise UsageError("a translation model is evaluated on a source and a reference: rnncli eval CKPT SRC REF")
    return evaluate_translation(checkpoint, Path(data[0]), [Path(p) for p in data[1:]], opts.beam,
                                opts.length_penalty, opts.batch_size, opts.device,
                                opts.int8, opts.shortlist)


def evaluate_files(hyp: str, refs: list[str], opts) -> dict[str, Any]:
    """`rnncli eval --hyp HYP --ref REF [REF...]`: score existing output; line counts must match."""
    from rnncli.metrics.translation import translation_scores
    from rnncli.readers.parallel import read_references
    from rnncli.readers.text import read_lines

    hyps = read_lines(hyp, allow_empty=True)
    return translation_scores(hyps, read_references(refs, len(hyps), hyp))


def render_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    table = Table(title="translation", title_justify="left")
    table.add_column("metric")
    table.add_column("score", justify="right")
    table.add_column("signature")
    ci = report.get("bleu_ci")
    bleu = f"{report['bleu']:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
    table.add_row("BLEU", bleu, report["signatures"]["bleu"])
    table.add_row("chrF", f"{report['chrf']:.2f}", report["signatures"]["chrf"])
    table.add_row("TER", f"{report['ter']:.2f}", report["signatures"]["ter"])
    details = report["bleu_details"]
    table.caption = (f"{report['sentences']:,} sentences; BLEU 95% CI by bootstrap; precisions "
                     + "/".join(f"{p:.1f}" for p in details["precisions"])
                     + f", BP {details['bp']:.3f}, hyp/ref length {details['sys_len']:,}/{details['ref_len']:,}")
    console.print(table)
