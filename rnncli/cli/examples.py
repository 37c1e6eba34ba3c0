"""The examples that end every command's --help: one table, command name -> epilog text.

app.py (and data.py for `data check`) pass these as the commands' `epilog`. The app formats
help with plain click (rich_markup_mode=None), which rewraps every paragraph unless it
starts with a line holding only `\\b`; each block below starts so, and keeps its lines
under 80 characters (a long command continues on the next line after ` \\`).

Every example runs as written from the project root on the samples in data/: the
training examples write runs/NAME, and the other commands use those checkpoints
(tests/test_help_examples.py checks each command's options against its --help and that
every data/ path exists).
"""

from __future__ import annotations


def block(*lines: str) -> str:
    """An 'Examples:' paragraph that click prints as written (indented by two)."""
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" if line else "" for line in lines)


EXAMPLES: dict[str, str] = {
    "train lm": block(
        "# a word-piece LM on the sample text, at most 2 minutes",
        "rnncli train lm --train data/lm/train.txt --valid data/lm/valid.txt \\",
        "    --out runs/lm --max-time 2",
        "# characters and a GRU; without --valid the last 10% is held out",
        "rnncli train lm --train data/lm/train.txt --out runs/lm-char \\",
        "    --tokenizer char --cell gru --max-steps 300",
        "# continue a stopped run where it left off",
        "rnncli train lm --train data/lm/train.txt --valid data/lm/valid.txt \\",
        "    --out runs/lm --max-time 2 --resume",
    ),
    "train classify": block(
        "# sentiment from a TSV file (header: text, label), at most 1 minute",
        "rnncli train classify --train data/classify/train.tsv \\",
        "    --valid data/classify/valid.tsv --out runs/sent --max-time 1",
        "# JSONL records with named fields, balanced class weights",
        "rnncli train classify --train data/classify/train.jsonl \\",
        "    --valid data/classify/valid.jsonl --text-field text \\",
        "    --label-field label --class-weights balanced --out runs/sent-jsonl \\",
        "    --max-time 1",
        "# fastText format (__label__X text)",
        "rnncli train classify --train data/classify/train.ft \\",
        "    --valid data/classify/valid.ft --out runs/sent-ft --max-time 1",
    ),
    "train tag": block(
        "# a BiLSTM-CRF tagger on IOB1 CoNLL columns, at most 2 minutes",
        "rnncli train tag --train data/tag/train.iob1.conll \\",
        "    --valid data/tag/valid.iob1.conll --out runs/ner --max-time 2",
        "# IOB2 tags, softmax output, character LSTM",
        "rnncli train tag --train data/tag/train.iob2.conll \\",
        "    --valid data/tag/valid.iob2.conll --no-crf --char-encoder lstm \\",
        "    --out runs/ner-softmax --max-time 2",
    ),
    "train translate": block(
        "# English to German with attention, at most 3 minutes",
        "rnncli train translate --train-src data/translate/train.en \\",
        "    --train-tgt data/translate/train.de \\",
        "    --valid-src data/translate/valid.en \\",
        "    --valid-tgt data/translate/valid.de \\",
        "    --out runs/mt --max-time 3",
        "# GRU cells, Bahdanau attention, one vocabulary per side",
        "rnncli train translate --train-src data/translate/train.en \\",
        "    --train-tgt data/translate/train.de \\",
        "    --valid-src data/translate/valid.en \\",
        "    --valid-tgt data/translate/valid.de \\",
        "    --cell gru --attention bahdanau --separate-vocab --out runs/mt-gru \\",
        "    --max-time 3",
    ),
    "train forecast": block(
        "# monthly series; horizon and context follow from the frequency",
        "rnncli train forecast --train data/forecast/monthly.csv --out runs/fc",
        "# one target with a known covariate (half-hourly demand, temperature)",
        "rnncli train forecast --train data/forecast/halfhourly.tsv --target demand \\",
        "    --covariates temperature --out runs/demand",
        "# many series in one long table, one per store",
        "rnncli train forecast --train data/forecast/quarterly_long.csv \\",
        "    --id-column store --out runs/stores",
    ),
    "generate": block(
        "rnncli generate runs/lm --prompt \"Ada \" --max-tokens 300 \\",
        "    --temperature 0.8 --seed 1",
        "# one completed line per prompt line on stdin",
        "printf 'Bram went\\nThe rain\\n' | rnncli generate runs/lm --prompt - --seed 1",
        "# three nucleus samples as JSONL, each with the seed that repeats it",
        "rnncli generate runs/lm --prompt \"The \" --num-samples 3 --top-p 0.9 \\",
        "    --output-format jsonl",
    ),
    "classify": block(
        "# LABEL<TAB>PROB, one line per input line",
        "rnncli classify runs/sent data/classify/unlabelled.txt",
        "# JSONL in, JSONL out, the two best labels each",
        "rnncli classify runs/sent data/classify/valid.jsonl --input-format jsonl \\",
        "    --output-format jsonl --top-k 2",
        "# abstain (label ?) below probability 0.8, into a file",
        "rnncli classify runs/sent data/classify/unlabelled.txt --min-prob 0.8 \\",
        "    -o labels.txt",
    ),
    "tag": block(
        "# word/TAG ..., one line per input line",
        "rnncli tag runs/ner data/tag/sentences.txt",
        "# CoNLL in, the columns kept and the predicted tag appended",
        "rnncli tag runs/ner data/tag/valid.iob1.conll --input-format conll \\",
        "    -o pred.conll",
        "# tokens, tags and entity spans with scores",
        "echo \"Anna Holm visited Valmora .\" | \\",
        "    rnncli tag runs/ner --output-format jsonl",
    ),
    "translate": block(
        "rnncli translate runs/mt data/translate/test.en --beam 5 > hyp.de",
        "echo \"A small dog sees the ball.\" | \\",
        "    rnncli translate runs/mt - --show-attention",
        "# the 3 best translations of each line, as JSONL",
        "rnncli translate runs/mt data/translate/test.en --n-best 3 \\",
        "    --output-format jsonl",
    ),
    "forecast": block(
        "# series,timestamp,forecast,q0.1,q0.5,q0.9",
        "rnncli forecast runs/fc data/forecast/monthly.csv > forecast.csv",
        "# 6 steps, drawn in the terminal and written as an image",
        "rnncli forecast runs/fc data/forecast/monthly.csv --horizon 6 --plot \\",
        "    --plot-out fc.png",
    ),
    "eval": block(
        "# entity F1 as JSON; exit 3 if below 0.8",
        "rnncli eval runs/ner data/tag/valid.iob1.conll --json --fail-under f1=0.8",
        "# BLEU, chrF and TER of a translator (source, then reference)",
        "rnncli eval runs/mt data/translate/test.en data/translate/test.de --json",
        "# classifier: accuracy, calibration, coverage at p >= 0.8, reliability plot",
        "rnncli eval runs/sent data/classify/valid.tsv --min-prob 0.8 --plot",
    ),
    "info": block(
        "rnncli info runs/lm",
        "rnncli info runs/ner --json",
        "# training loss and validation metric against steps",
        "rnncli info runs/lm --curves",
    ),
    "export": block(
        "rnncli export runs/ner --format torchscript -o runs/ner-torchscript",
        "# ONNX, checked against rnncli on sample lines",
        "rnncli export runs/mt --format onnx -o runs/mt-onnx \\",
        "    --check data/translate/test.en",
    ),
    "data check": block(
        "rnncli data check --task classify --train data/classify/train.tsv \\",
        "    --valid data/classify/valid.tsv",
        "rnncli data check --task tag data/tag/train.iob1.conll \\",
        "    data/tag/valid.iob1.conll --json",
        "rnncli data check --task translate --max-len 80 \\",
        "    data/translate/train.en data/translate/train.de \\",
        "    data/translate/valid.en data/translate/valid.de",
    ),
}
