"""`rnncli train tag`, `rnncli tag`, and the tagging part of `rnncli eval`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Iterable, Iterator, Optional, TextIO

import typer

from rnncli.cli.common import BatchSizeOpt, CkptArg, DeviceOpt, InputArg, OutputOpt, QuietOpt
from rnncli.cli.streams import chunked, output_stream
from rnncli.cli.train_options import opt, training_command

WORD = re.compile(r"\S+")
INPUT_FORMATS = ("text", "conll")
OUTPUT_FORMATS = ("conll", "jsonl", "inline")


@training_command
def train_tag_cli(
    train: Annotated[Path, typer.Option("--train", help="Training data, CoNLL columns.", show_default=False)],
    valid: Annotated[Path, typer.Option("--valid", help="Validation data, CoNLL columns.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="Checkpoint directory to write.", show_default=False)],
    word_column: opt(int, "--word-column", help="Column of the words, from 1 (default 1; -1 is the last).") = None,
    tag_column: opt(int, "--tag-column", help="Column of the tags, from 1 (default -1, the last).") = None,
    sep: opt(str, "--sep", help="Column separator: space (any whitespace, default) or tab.") = None,
    scheme: opt(str, "--scheme", help="iob1|iob2|bioes|none (default: detected from the training data).") = None,
    crf: opt(bool, "--crf/--no-crf", help="CRF output layer with Viterbi decoding (default), or softmax.") = None,
    char_encoder: opt(str, "--char-encoder", help="Character features per word: cnn (default) or lstm.") = None,
    char_embed: opt(int, "--char-embed", help="Character embedding size (default 30).") = None,
    char_features: opt(int, "--char-features", help="Character feature size per word (default 50; 0: none).") = None,
    min_freq: opt(int, "--min-freq", help="Words seen fewer times share <unk> (default 1).") = None,
    word_dropout: opt(float, "--word-dropout", help="Probability of replacing a once-seen word by <unk> in training (default 0.5).") = None,
    lowercase: opt(bool, "--lowercase/--no-lowercase", help="Lowercase words for the word embedding (characters keep case; default on).") = None,
    embeddings: opt(Path, "--embeddings", help="Pretrained word vectors (word2vec/GloVe text format).") = None,
    options: dict = None,
) -> None:
    from rnncli.cli.train_view import render_training
    from rnncli.tasks.tag import train_tag

    own = {"word_column": word_column, "tag_column": tag_column, "sep": sep, "scheme": scheme, "crf": crf,
           "char_encoder": char_encoder, "char_embed": char_embed, "char_features": char_features,
           "min_freq": min_freq, "word_dropout": word_dropout, "lowercase": lowercase,
           "embeddings": str(embeddings) if embeddings else None}
    events = train_tag({**options, **own}, train, valid, out, options["resume"])
    render_training(events, quiet=options["quiet"], as_json=options["json"])


def tag_cli(
    checkpoint: CkptArg,
    input: InputArg = "-",
    output: OutputOpt = None,
    input_format: Annotated[str, typer.Option("--input-format", help="text (one sentence per line, words split on whitespace) or conll.")] = "text",
    output_format: Annotated[Optional[str], typer.Option("--output-format", help="conll, jsonl or inline (word/TAG); default: inline for text, conll for conll.", show_default=False)] = None,
    output_scheme: Annotated[Optional[str], typer.Option("--output-scheme", help="iob1|iob2|bioes (default: the training data's scheme).", show_default=False)] = None,
    word_column: Annotated[Optional[int], typer.Option("--word-column", help="Word column of CoNLL input (default: as in training).", show_default=False)] = None,
    sep: Annotated[Optional[str], typer.Option("--sep", help="CoNLL column separator: space or tab (default: as in training).", show_default=False)] = None,
    batch_size: BatchSizeOpt = 128,
    device: DeviceOpt = "auto",
    quiet: QuietOpt = False,
) -> None:
    """Tag text or CoNLL input; one output line per input line for text, one token line per
    token for CoNLL; output is written as it is produced."""
    from rnncli.errors import UsageError
    from rnncli.schemes import normalise_scheme
    from rnncli.tasks.tag import load_tagger

    if input_format not in INPUT_FORMATS:
        raise UsageError(f"--input-format {input_format!r}: choose text or conll")
    output_format = output_format or ("inline" if input_format == "text" else "conll")
    if output_format not in OUTPUT_FORMATS:
        raise UsageError(f"--output-format {output_format!r}: choose conll, jsonl or inline")
    tagger = load_tagger(checkpoint, device)
    scheme = tagger.scheme
    if output_scheme is not None:
        try:
            scheme = normalise_scheme(output_scheme)
        except ValueError as exc:
            raise UsageError(f"--output-scheme: {exc}") from None
        if (scheme == "none") != (tagger.scheme == "none"):
            raise UsageError(f"--output-scheme {scheme}: the model's tags are {tagger.scheme!r}")
    settings = {"word_column": word_column, "sep": sep}
    with output_stream(output) as stream:
        for chunk in input_chunks(tagger, input, input_format, settings, batch_size):
            write_chunk(tagger, chunk, output_format, scheme, batch_size, stream)
            stream.flush()


def input_chunks(tagger, path: str, input_format: str, settings: dict, size: int) -> Iterator[list]:
    """Lists of items (text: (line, words, offsets); conll: sentences) of at most `size`; from
    stdin a chunk also ends when no more input is waiting, so pipelines see output early."""
    from rnncli.readers.conll import column_index, iter_conll, separator
    from rnncli.readers.text import iter_lines

    if input_format == "text":
        items: Iterable = (text_item(line) for _, line in iter_lines(path))
    else:
        saved = tagger.config["options"]
        column = column_index(settings["word_column"], "word-column") if settings["word_column"] else \
            column_index(saved["word_column"], "word-column")
        items = iter_conll(path, column, None, separator(settings["sep"] or saved["sep"]))
    yield from chunked(items, size, path == "-")


def text_item(line: str) -> tuple[str, list[str], list[tuple[int, int]]]:
    matches = list(WORD.finditer(line))
    return line, [m.group() for m in matches], [(m.start(), m.end()) for m in matches]


def write_chunk(tagger, chunk: list, output_format: str, scheme: str, batch_size: int, stream: TextIO) -> None:
    from rnncli.readers.conll import format_sentence
    from rnncli.schemes import convert

    is_text = isinstance(chunk[0], tuple)
    sentences = [item[1] if is_text else item.words for item in chunk]
    result = tagger.predict(sentences, batch_size, probabilities=output_format == "jsonl")
    for index, (item, inner_tags) in enumerate(zip(chunk, result["constrained"])):
        words = sentences[index]
        tags = convert(inner_tags, tagger.inner, scheme)
        if output_format == "inline":
            stream.write(" ".join(f"{w}/{t}" for w, t in zip(words, tags)) + "\n")
        elif output_format == "conll":
            rows = [[w] for w in words] if is_text else item.rows
            stream.write(format_sentence(rows, tags) if rows else "\n")
        else:
            text, offsets = (item[0], item[2]) if is_text else joined(words)
            probs = result["probabilities"][index]
            record = {"tokens": words, "tags": tags,
                      "entities": entities(tagger, text, offsets, inner_tags, probs)}
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")


def joined(words: list[str]) -> tuple[str, list[tuple[int, int]]]:
    offsets, position = [], 0
    for word in words:
        offsets.append((position, position + len(word)))
        position += len(word) + 1
    return " ".join(words), offsets


def entities(tagger, text: str, offsets, inner_tags: list[str], probs) -> list[dict]:
    """Entity spans with token and character offsets; score = mean probability of the
    predicted label over the entity's tokens (CRF marginals or softmax)."""
    from rnncli.schemes import strict_spans

    if tagger.inner == "none":
        return []
    index = {label: i for i, label in enumerate(tagger.labels)}
    found = []
    for kind, start, end in strict_spans(inner_tags, tagger.inner):
        score = sum(float(probs[t, index[inner_tags[t]]]) for t in range(start, end)) / (end - start)
        char_start, char_end = offsets[start][0], offsets[end - 1][1]
        found.append({"type": kind, "start": start, "end": end, "char_start": char_start,
                      "char_end": char_end, "text": text[char_start:char_end], "score": round(score, 4)})
    return found


def evaluate_checkpoint(checkpoint: Path, data: list[str], opts) -> dict[str, Any]:
    from rnncli.errors import UsageError
    from rnncli.tasks.tag import evaluate_tagger

    if len(data) != 1:
        raise UsageError("a tagger is evaluated on one CoNLL file: rnncli eval CKPT FILE")
    report = evaluate_tagger(checkpoint, Path(data[0]), opts.device, opts.batch_size,
                             opts.extra.get("scheme"))
    return {"data": data[0], **report}


def evaluate_files(pred: str, gold: str, opts) -> dict[str, Any]:
    """Score a predicted CoNLL file against a gold one (tags in the last column of each)."""
    from rnncli.errors import DataError
    from rnncli.metrics.tagging import tagging_report
    from rnncli.readers.conll import read_conll
    from rnncli.schemes import detect_scheme, normalise_scheme

    gold_sents, pred_sents = read_conll(gold), read_conll(pred)
    if len(gold_sents) != len(pred_sents):
        raise DataError(f"{pred}: {len(pred_sents)} sentences, but {gold} has {len(gold_sents)}")
    for number, (g, p) in enumerate(zip(gold_sents, pred_sents), start=1):
        if len(g.tags) != len(p.tags):
            raise DataError.at(pred, p.line, f"sentence {number} has {len(p.tags)} tokens, but in "
                                             f"{gold}:{g.line} it has {len(g.tags)}")
    given = opts.extra.get("scheme")
    scheme = normalise_scheme(given) if given else detect_scheme([s.tags for s in gold_sents])
    report = tagging_report([s.tags for s in gold_sents], [s.tags for s in pred_sents], scheme)
    return {"pred": pred, "gold": gold, **report}


def render_report(report: dict[str, Any], console) -> None:
    from rich.table import Table

    summary = Table(title=f"tagging: {report.get('mode', '')}", title_justify="left")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for key in ("precision", "recall", "f1", "accuracy"):
        summary.add_row(key, f"{report[key] * 100:.2f}")
    summary.add_row("invalid transitions", f"{report['invalid_transitions']:,}"
                    + (" (unconstrained decoding)" if "invalid_transitions_scheme" in report else ""))
    summary.add_row("sentences / tokens", f"{report['sentences']:,} / {report['tokens']:,}")
    console.print(summary)
    per_type = Table(title="per type", title_justify="left")
    for column in ("type", "precision", "recall", "f1", "support"):
        per_type.add_column(column, justify="left" if column == "type" else "right")
    for name, row in report["per_type"].items():
        per_type.add_row(name, *(f"{row[k] * 100:.2f}" for k in ("precision", "recall", "f1")), f"{row['support']:,}")
    console.print(per_type)
    if "confusion" in report:
        render_confusion(report["confusion"], console)


def render_confusion(confusion: dict[str, Any], console) -> None:
    from rich.table import Table

    from rnncli.metrics.tagging import ERROR_KINDS

    table = Table(title="entity errors (gold entities by outcome; spurious: predicted, overlapping no gold)",
                  title_justify="left")
    table.add_column("type")
    for kind in (*ERROR_KINDS, "spurious"):
        table.add_column(kind.replace("_", " "), justify="right")
    for name, row in confusion["by_type"].items():
        table.add_row(name, *(str(row[k]) for k in (*ERROR_KINDS, "spurious")))
    console.print(table)
    if confusion["type_errors"]:
        pairs = ", ".join(f"{pair} {count}" for pair, count in confusion["type_errors"].items())
        console.print(f"type errors (gold->predicted, same span): {pairs}")
