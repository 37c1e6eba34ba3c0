"""Each task's settings: its data and model options, its training defaults, its input files.

These classes live apart from the task modules because `rnncli --help` and every
`train <task> --help` show them, and the task modules import torch (seconds) while this
module imports nothing heavy. A task's defaults are the plain redeclarations below; the
help text and checks come from the shared declaration in rnncli/config.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnncli.config import ModelSettings, Settings, TextModelSettings, TrainConfig, option
from rnncli.errors import ConfigError


@dataclass(frozen=True)
class Input:
    """A data file a training command reads: --NAME PATH."""

    name: str
    help: str
    required: bool = True

    @property
    def option_name(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass(frozen=True)
class TaskSpec:
    """What the command line, the API, `eval` and `info` know of a task before loading it."""

    name: str
    module: str                  # the module holding the task's `TASK` (imported on use)
    settings: type               # the task's data and model options
    training: type               # TrainConfig with the task's defaults
    inputs: tuple[Input, ...]
    help: str


# ---- language model ----------------------------------------------------------------------
@dataclass(frozen=True)
class LMSettings(TextModelSettings):
    # Measured on Tiny Shakespeare (bench/bench_lm.py): on a CPU budget, one 512-unit layer
    # with small batches (more updates per token) beat two layers and 64-sequence batches.
    embed: int = 64
    hidden: int = 512
    seq_len: int = option(128, "Tokens per training window.", check="positive")


@dataclass(frozen=True)
class LMTraining(TrainConfig):
    batch_size: int = 16
    epochs: int = 20


# ---- classification ----------------------------------------------------------------------
@dataclass(frozen=True)
class ClassifySettings(TextModelSettings):
    # Chosen on SST-2 with 2 CPU cores (bench/bench_classify.py): a one-layer BiLSTM with
    # max pooling over sentencepiece unigram pieces.
    tokenizer: str = "unigram"
    vocab_size: int | None = 16000
    hidden: int = 128
    bidirectional: bool = True
    dropout: float = 0.3
    format: str | None = option(None, "Data format (default: from the file extension).",
                                choices=("tsv", "csv", "jsonl", "fasttext"))
    text_field: str | None = option(None, "Text column/key (default: the first of text, sentence).")
    label_field: str | None = option(None, "Label column/key (default: label).")
    pooling: str = option("max", "Pooling over the RNN outputs.", choices=("last", "mean", "max", "attention"))
    class_weights: str = option("none", "Weight the loss by inverse class frequency (balanced) or not.",
                                choices=("none", "balanced"))
    allow_unseen_labels: bool = option(False, "Accept validation labels that never occur in training.",
                                       flag="--allow-unseen-labels/--no-allow-unseen-labels")
    metric: str = option("accuracy", "Picks the best checkpoint and early stopping.",
                         choices=("accuracy", "macro_f1"))
    max_length: int = option(400, "Cut texts to this many tokens.", check="positive")
    max_tokens: int | None = option(None, "Token budget per batch (padded), on top of --batch-size.",
                                    check="positive")


@dataclass(frozen=True)
class TransferTraining(TrainConfig):
    """ULMFiT-style transfer from a language model (tasks/transfer.py), for the tasks whose
    encoder reads text left to right as `train lm` does: classify and tag."""

    init_from: str | None = option(None, "Start the embedding and RNN encoder from this `rnncli train lm` "
                                         "checkpoint; its tokenizer, --cell, --hidden, --layers, --embed "
                                         "and --layer-norm are taken (a bidirectional encoder's forward "
                                         "direction starts from the LM, the backward one fresh).")
    unfreeze_every: int = option(0, "Gradual unfreezing: the head trains alone for N steps, then one more "
                                    "layer group joins every N steps, top RNN layer first, embedding last "
                                    "(0: everything trains from the start).", check="nonneg")
    lr_layer_decay: float = option(1.0, "Discriminative learning rates: each layer group below the head "
                                         "gets the rate of the one above times this (1: one rate).",
                                   check="probability")


@dataclass(frozen=True)
class ClassifyTraining(TransferTraining):
    batch_size: int = 64


# ---- tagging -----------------------------------------------------------------------------
@dataclass(frozen=True)
class TagSettings(ModelSettings):
    embed: int = 100
    hidden: int = 100
    bidirectional: bool = True
    dropout: float = 0.5
    vocab_size: int | None = option(None, "Cap on the word vocabulary.", check="vocab")
    word_column: int = option(1, "Column of the words, from 1 (-1 is the last).")
    tag_column: int = option(-1, "Column of the tags, from 1 (-1 is the last).")
    sep: str = option("space", "Column separator: space (any whitespace) or tab.",
                      choices=("space", "whitespace", "tab"))
    scheme: str | None = option(None, "Tag scheme iob1|iob2|bioes|none (default: detected from the data).")
    crf: bool = option(True, "CRF output layer with Viterbi decoding, or softmax.", flag="--crf/--no-crf")
    char_encoder: str = option("cnn", "Character features per word.", choices=("cnn", "lstm"))
    char_embed: int = option(30, "Character embedding size.", check="positive")
    char_features: int = option(50, "Character feature size per word (0: none).", check="nonneg")
    min_freq: int = option(1, "Words seen fewer times share <unk>.", check="positive")
    word_dropout: float = option(0.5, "Probability of replacing a once-seen word by <unk> in training.",
                                 check="unit")
    lowercase: bool = option(True, "Lowercase words for the word embedding (characters keep case).",
                             flag="--lowercase/--no-lowercase")
    embeddings: str | None = option(None, "Pretrained word vectors (word2vec/GloVe text format).")


@dataclass(frozen=True)
class TagTraining(TransferTraining):
    weight_decay: float = 0.0
    clip_norm: float = 5.0
    warmup: int = 50
    epochs: int = 50


# ---- translation -------------------------------------------------------------------------
@dataclass(frozen=True)
class TranslateSettings(TextModelSettings):
    tokenizer: str = "unigram"
    vocab_size: int | None = 8000
    embed: int = 256
    bidirectional: bool = True
    dropout: float = 0.25
    attention: str = option("luong-general", "Attention.", choices=("bahdanau", "luong-dot", "luong-general"))
    label_smoothing: float = option(0.1, "Label smoothing of the loss.", check="fraction")
    max_len: int = option(100, "Drop training pairs with a side longer than this many tokens.", check="positive")
    max_tokens: int = option(3000, "Padded tokens per training batch.", check="positive")
    encoder_hidden: int | None = option(None, "Encoder units per direction (default: --hidden). "
                                              "OpenNMT-py's -brnn uses --hidden/2.", check="positive")
    joint_vocab: bool = option(True, "One sentencepiece model for both sides, or one per side.",
                               flag="--joint-vocab/--separate-vocab")
    eval_batch_size: int = option(128, "Sentences per batch when decoding the validation set.",
                                  check="positive")


@dataclass(frozen=True)
class TranslateTraining(TrainConfig):
    batch_size: int = 64
    warmup: int = 200
    epochs: int = 40


# ---- forecasting -------------------------------------------------------------------------
@dataclass(frozen=True)
class ForecastSettings(Settings):
    # Model defaults chosen with bench/forecast_probe.py on ../shared/data/timeseries: a
    # 64-unit LSTM encoder, an RNN decoder over the horizon (the direct head scored 2.27
    # mean MASE against its 2.26), level scaling and a seasonal-naive-with-drift base.
    format: str | None = option(None, "Data format (default: from the file extension).",
                                choices=("csv", "tsv", "jsonl"))
    time_column: str | None = option(None, "Column of the timestamps (default: time, date, month, ... "
                                           "or the first column).")
    target: tuple[str, ...] | None = option(None, "Column(s) to forecast, comma-separated (default: every "
                                                  "numeric column; one with --id-column).")
    covariates: tuple[str, ...] = option((), "Columns read as inputs over the past only, comma-separated.")
    id_column: str | None = option(None, "Long layout: the column naming each series.")
    freq: str | None = option(None, "Frequency: step, Y, Q, M, W, D, B, or 1h, 30min ... (default: inferred).")
    missing: str = option("interpolate", "Missing values: fill by linear interpolation, or refuse.",
                          choices=("interpolate", "error"))
    horizon: int | None = option(None, "Steps to forecast (default: the M4 horizon of the frequency: "
                                       "yearly 6, quarterly 8, monthly 18, weekly 13, daily 14, sub-daily 48).",
                                 check="positive")
    context: int | None = option(None, "Past steps the model reads (default: about three seasons, "
                                       "at least twice the horizon).", check="positive")
    quantiles: tuple[float, ...] = option((0.1, 0.5, 0.9), "Quantiles to forecast, comma-separated; "
                                                           "0.5 (the point forecast) must be one.")
    decoder: str = option("rnn", "Horizon decoder: an RNN over the future steps, or a direct "
                                 "multi-horizon head.", choices=("rnn", "direct"))
    scaling: str = option("level", "Per-window scaling: level (last season's mean, mean step change) "
                                   "or mean-abs (mean absolute value).", choices=("level", "mean-abs"))
    baseline: str = option("seasonal-drift", "What the network corrects: a seasonal naive forecast "
                                             "with drift, without, a naive one, or nothing.",
                           choices=("seasonal-drift", "seasonal", "naive", "none"))
    intervals: str = option("history", "Intervals: at least as wide as the seasonal naive forecast's "
                                       "errors over each series' own past (history), or the network's "
                                       "alone (model).", choices=("history", "model"))
    ensemble: int = option(1, "Networks trained together from different initialisations; "
                              "their quantiles are averaged.", check="positive")
    cell: str = option("lstm", "Recurrent cell.", choices=("lstm", "gru", "rnn-tanh", "rnn-relu"))
    layers: int = option(1, "Recurrent layers.", check="positive")
    hidden: int = option(64, "Hidden units per layer.", check="positive")
    dropout: float = option(0.0, "Dropout between recurrent layers.", check="fraction")
    steps_per_epoch: int = option(100, "Batches of random windows per epoch.", check="positive")

    def __post_init__(self) -> None:
        super().__post_init__()
        qs = self.quantiles
        if not qs or list(qs) != sorted(set(qs)) or not all(0 < q < 1 for q in qs):
            raise ConfigError(f"--quantiles {','.join(map(str, qs))} must be increasing, distinct and "
                              "between 0 and 1")
        if 0.5 not in qs:
            raise ConfigError(f"--quantiles {','.join(map(str, qs))} must include 0.5 (the point forecast "
                              "is the median)")


@dataclass(frozen=True)
class ForecastTraining(TrainConfig):
    # bench/forecast_probe.py trained 800 steps of 64 windows at 3e-3; the loop keeps the
    # checkpoint with the best validation MASE.
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup: int = 80
    epochs: int = 8


# ---- the specs ---------------------------------------------------------------------------
LM = TaskSpec("lm", "rnncli.tasks.lm", LMSettings, LMTraining,
              (Input("train", "Training text (UTF-8)."),
               Input("valid", "Validation text (default: the last 10% of --train).", required=False)),
              "Train a recurrent language model (text generation).")
CLASSIFY = TaskSpec("classify", "rnncli.tasks.classify", ClassifySettings, ClassifyTraining,
                    (Input("train", "Training data: TSV/CSV with a header, JSONL, or fastText lines."),
                     Input("valid", "Validation data, same format.")),
                    "Train a text classifier (sentiment, topics; BiLSTM + pooling).")
TAG = TaskSpec("tag", "rnncli.tasks.tag", TagSettings, TagTraining,
               (Input("train", "Training data, CoNLL columns."), Input("valid", "Validation data, CoNLL columns.")),
               "Train a sequence tagger (NER and other span labelling; BiLSTM-CRF).")
TRANSLATE = TaskSpec("translate", "rnncli.tasks.translate", TranslateSettings, TranslateTraining,
                     (Input("train_src", "Training source text, one sentence per line."),
                      Input("train_tgt", "Training target text, aligned with --train-src by line."),
                      Input("valid_src", "Validation source text."),
                      Input("valid_tgt", "Validation target text (scored with sacreBLEU).")),
                     "Train an attention encoder-decoder (translation, any text rewriting).")
FORECAST = TaskSpec("forecast", "rnncli.tasks.forecast", ForecastSettings, ForecastTraining,
                    (Input("train", "Series: CSV/TSV/JSONL with a header (wide: a time column and value "
                                    "columns; long: with --id-column). The last horizon of each series "
                                    "validates."),),
                    "Train a time-series forecaster (RNN encoder-decoder, quantile intervals).")
