"""Refactoring check (not a benchmark, not a test): run every command on the bundled samples
and write each one's exit code, stdout and stderr to a directory, so two trees can be
compared with `diff -r`.

    python bench/snapshot_outputs.py OUT_DIR            # with the installed rnncli
    PYTHONPATH=/path/to/other/tree python bench/snapshot_outputs.py OUT_DIR2
    diff -r OUT_DIR OUT_DIR2

Training is tiny, seeded and single-threaded, so it is deterministic on one machine. Run
times and temporary paths are masked in the stored text.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
SMALL = ["--hidden", "32", "--embed", "16", "--seed", "3", "--device", "cpu"]

MASKS = [
    (re.compile(r"\d+(\.\d+)?s\b"), "<secs>"),
    (re.compile(r'"(seconds|elapsed)": [\d.]+'), r'"\1": <secs>'),
    (re.compile(r"[\d,.]+k (tokens|sentences|tgt tokens)/s"), r"<rate> \1/s"),
    (re.compile(r'"torch": "[^"]+"'), '"torch": "<v>"'),
    (re.compile(r"torch [0-9][^ ;\n]*"), "torch <v>"),
]


def normalise(text: str, work: Path) -> str:
    text = text.replace(str(work), "<work>").replace(str(ROOT), "<root>")
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return text


class Runner:
    """Runs `rnncli ARGS` in the work directory and stores its exit code, stdout and stderr
    (masked) as the next numbered file in the output directory."""

    def __init__(self, out: Path, work: Path):
        self.out, self.work = out, work
        self.env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "120"}
        self.counter = iter(range(1000))

    def __call__(self, name: str, *args: str, stdin: str | None = None) -> None:
        proc = subprocess.run([sys.executable, "-m", "rnncli", *map(str, args)], input=stdin,
                              capture_output=True, text=True, env=self.env, cwd=self.work)
        body = (f"$ rnncli {' '.join(map(str, args))}\nexit {proc.returncode}\n--- stdout\n{proc.stdout}"
                f"--- stderr\n{proc.stderr}")
        (self.out / f"{next(self.counter):03d}-{name}.txt").write_text(normalise(body, self.work), encoding="utf-8")


def train_all(run: Runner, work: Path) -> None:
    """The four tiny seeded models every later command reads."""
    lm, cls, tag, mt = work / "lm", work / "cls", work / "tag", work / "mt"
    run("train-lm", "train", "lm", "--train", DATA / "lm/train.txt", "--valid", DATA / "lm/valid.txt",
        "--out", lm, "--max-steps", "40", "--eval-every", "20", "--seq-len", "32", "--batch-size", "8",
        "--json", *SMALL)
    run("train-lm-holdout", "train", "lm", "--train", DATA / "lm/valid.txt", "--out", work / "lm2",
        "--max-steps", "5", "--seq-len", "16", "--quiet", *SMALL)
    run("train-cls", "train", "classify", "--train", DATA / "classify/train.tsv", "--valid",
        DATA / "classify/valid.tsv", "--out", cls, "--max-steps", "40", "--eval-every", "20",
        "--vocab-size", "300", "--json", *SMALL)
    run("train-tag", "train", "tag", "--train", DATA / "tag/train.iob1.conll", "--valid",
        DATA / "tag/valid.iob1.conll", "--out", tag, "--max-steps", "40", "--eval-every", "20", "--json", *SMALL)
    run("train-mt", "train", "translate", "--train-src", DATA / "translate/train.en", "--train-tgt",
        DATA / "translate/train.de", "--valid-src", DATA / "translate/valid.en", "--valid-tgt",
        DATA / "translate/valid.de", "--out", mt, "--max-steps", "60", "--eval-every", "30",
        "--vocab-size", "300", "--json", *SMALL)


def language_model(run: Runner, lm: Path) -> None:
    """eval and generate."""
    run("eval-lm", "eval", lm, DATA / "lm/valid.txt")
    run("eval-lm-json", "eval", lm, DATA / "lm/valid.txt", "--json")
    run("gen", "generate", lm, "--prompt", "The ", "--max-tokens", "60", "--seed", "1")
    run("gen-greedy", "generate", lm, "--prompt", "A", "--max-tokens", "30", "--temperature", "0")
    run("gen-topk", "generate", lm, "--max-tokens", "30", "--seed", "2", "--top-k", "5", "--top-p", "0.9",
        "--num-samples", "2")
    run("gen-jsonl", "generate", lm, "--prompt", "Ada ", "--max-tokens", "20", "--seed", "4",
        "--num-samples", "2", "--output-format", "jsonl")
    run("gen-stdin", "generate", lm, "--prompt", "-", "--max-tokens", "30", "--seed", "1",
        stdin="Ada\nThe \n\nBram went\n")
    run("gen-stdin-jsonl", "generate", lm, "--prompt", "-", "--max-tokens", "20", "--seed", "1",
        "--output-format", "jsonl", stdin="Ada\nThe \n")


def classification(run: Runner, cls: Path) -> None:
    """eval and classify."""
    run("eval-cls", "eval", cls, DATA / "classify/valid.tsv")
    run("eval-cls-json", "eval", cls, DATA / "classify/valid.jsonl", "--json")
    run("eval-cls-gate", "eval", cls, DATA / "classify/valid.ft", "--json", "--fail-under", "accuracy=0.99")
    run("cls-text", "classify", cls, DATA / "classify/unlabelled.txt")
    run("cls-topk", "classify", cls, DATA / "classify/unlabelled.txt", "--top-k", "2", "--output-format", "jsonl")
    run("cls-tsv", "classify", cls, DATA / "classify/valid.tsv", "--input-format", "tsv")
    run("cls-jsonl", "classify", cls, "-", "--input-format", "jsonl",
        stdin="\n".join((DATA / "classify/valid.jsonl").read_text().splitlines()[:20]) + "\n")
    run("cls-tsv-to-jsonl", "classify", cls, DATA / "classify/valid.tsv", "--input-format", "tsv",
        "--output-format", "jsonl", "--top-k", "2")


def tagging(run: Runner, tag: Path, out: Path, work: Path) -> None:
    """eval and tag."""
    run("eval-tag", "eval", tag, DATA / "tag/valid.iob1.conll")
    run("eval-tag-json", "eval", tag, DATA / "tag/valid.iob2.conll", "--json")
    run("tag-text", "tag", tag, DATA / "tag/sentences.txt")
    run("tag-jsonl", "tag", tag, DATA / "tag/sentences.txt", "--output-format", "jsonl")
    run("tag-conll", "tag", tag, DATA / "tag/valid.iob1.conll", "--input-format", "conll", "-o", work / "pred.conll")
    shutil.copy(work / "pred.conll", out / "tag-conll-output.conll")
    run("tag-bioes", "tag", tag, DATA / "tag/sentences.txt", "--output-scheme", "bioes", "--output-format", "conll")
    run("eval-pred-gold", "eval", "--pred", work / "pred.conll", "--gold", DATA / "tag/valid.iob1.conll", "--json")
    run("eval-pred-gold-table", "eval", "--pred", work / "pred.conll", "--gold", DATA / "tag/valid.iob1.conll")


def translation(run: Runner, mt: Path, out: Path, work: Path) -> None:
    """eval and translate."""
    run("eval-mt", "eval", mt, DATA / "translate/test.en", DATA / "translate/test.de")
    run("eval-mt-json", "eval", mt, DATA / "translate/test.en", DATA / "translate/test.de", "--json",
        "--beam", "3", "--length-penalty", "0.0")
    run("eval-mt-fast", "eval", mt, DATA / "translate/test.en", DATA / "translate/test.de", "--json",
        "--int8", "--shortlist", "--device", "cpu")
    run("mt-beam", "translate", mt, DATA / "translate/test.en", "-o", work / "hyp.de")
    shutil.copy(work / "hyp.de", out / "mt-beam-output.de")
    run("mt-greedy", "translate", mt, DATA / "translate/test.en", "--beam", "1")
    run("mt-nbest", "translate", mt, DATA / "translate/valid.en", "--n-best", "3", "--output-format", "jsonl")
    run("mt-attention", "translate", mt, "-", "--attention-out", work / "attn.jsonl", "--show-attention",
        stdin="A small dog sees the ball.\n\nThe woman watches a boy.\n")
    shutil.copy(work / "attn.jsonl", out / "mt-attention.jsonl")
    run("mt-int8-shortlist", "translate", mt, DATA / "translate/test.en", "--int8", "--shortlist", "--device", "cpu")
    run("eval-hyp-ref", "eval", "--hyp", work / "hyp.de", "--ref", DATA / "translate/test.de", "--json")
    run("eval-hyp-ref-table", "eval", "--hyp", work / "hyp.de", "--ref", DATA / "translate/test.de")


def errors(run: Runner, cls: Path, mt: Path, lm: Path, work: Path) -> None:
    """A few errors, and the root help."""
    run("err-missing", "eval", work / "nothing", DATA / "lm/valid.txt")
    run("err-task", "generate", cls, "--prompt", "x")
    run("err-nbest", "translate", mt, DATA / "translate/test.en", "--n-best", "3")
    run("err-resume", "train", "lm", "--train", DATA / "lm/train.txt", "--out", lm, "--hidden", "64", "--resume")
    run("err-exists", "train", "lm", "--train", DATA / "lm/train.txt", "--out", lm)
    run("err-cell", "train", "lm", "--train", DATA / "lm/train.txt", "--out", work / "x", "--cell", "tree")
    run("help-root", "--help")


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    work = out.parent / (out.name + ".work")
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    out.mkdir(parents=True)
    work.mkdir(parents=True)
    run = Runner(out, work)
    train_all(run, work)
    lm, cls, tag, mt = work / "lm", work / "cls", work / "tag", work / "mt"
    for ckpt in (lm, cls, tag, mt):
        run(f"info-{ckpt.name}", "info", ckpt)
        run(f"info-json-{ckpt.name}", "info", ckpt, "--json")
    language_model(run, lm)
    classification(run, cls)
    tagging(run, tag, out, work)
    translation(run, mt, out, work)
    errors(run, cls, mt, lm, work)
    print(f"wrote {len(list(out.iterdir()))} files to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
