"""Write the small synthetic sentiment samples used by the quick start and the tests.

Every sentence is generated here from word lists written for this project (no corpus
text): reviews of made-up films, books, meals and gadgets, labelled positive, negative or
neutral. Neutral is rarer (about 1 in 5), so class weighting has something to do, and
some sentences negate their adjective ("not good" is negative), so word order matters.

    python data/classify/make_samples.py        # rewrites the files beside this script

Writes train/valid in three formats with the same examples:
    train.tsv valid.tsv        header `text<TAB>label`
    train.jsonl valid.jsonl    {"id": ..., "text": ..., "label": ...}
    train.ft valid.ft          fastText: `__label__positive some text`
and unlabelled.txt (valid texts only, one per line, with a blank line) for `rnncli classify`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20240611
SIZES = {"train": 900, "valid": 200}

THINGS = ["film", "movie", "book", "novel", "meal", "soup", "phone", "laptop", "show", "album",
          "hotel", "game", "story", "camera", "concert", "script", "ending", "plot", "cast", "song"]
POSITIVE = ["wonderful", "delightful", "brilliant", "charming", "moving", "superb", "gripping",
            "lovely", "excellent", "clever", "warm", "fresh", "funny", "beautiful", "great", "good"]
NEGATIVE = ["dull", "boring", "awful", "clumsy", "tedious", "bland", "annoying", "messy",
            "terrible", "weak", "lifeless", "shallow", "painful", "cheap", "bad", "poor"]
NEUTRAL = ["long", "short", "blue", "recent", "french", "quiet", "new", "second", "small",
           "standard", "plain", "familiar"]
INTENSIFIERS = ["really", "truly", "quite", "very", "rather", "remarkably", "simply"]
OPENERS = ["honestly", "overall", "in the end", "to be fair", "frankly", "all in all"]
POSITIVE_VERBS = ["loved", "enjoyed", "adored", "admired", "recommend"]
NEGATIVE_VERBS = ["hated", "regretted", "disliked", "resented", "endured"]
NEUTRAL_VERBS = ["bought", "watched", "read", "saw", "tried", "finished"]


def sentence(rng: random.Random, label: str) -> str:
    thing = rng.choice(THINGS)
    if label == "neutral":
        templates = [
            f"the {thing} is {rng.choice(NEUTRAL)}",
            f"i {rng.choice(NEUTRAL_VERBS)} the {thing} last week",
            f"it is a {rng.choice(NEUTRAL)} {thing} about a {rng.choice(THINGS)}",
            f"the {thing} comes out on a tuesday",
        ]
        return rng.choice(templates)
    good = label == "positive"
    same, opposite = (POSITIVE, NEGATIVE) if good else (NEGATIVE, POSITIVE)
    verbs = POSITIVE_VERBS if good else NEGATIVE_VERBS
    templates = [
        f"the {thing} was {rng.choice(INTENSIFIERS)} {rng.choice(same)}",
        f"a {rng.choice(same)} {thing} with a {rng.choice(same)} {rng.choice(THINGS)}",
        f"i {rng.choice(verbs)} this {thing}",
        f"{rng.choice(OPENERS)} , the {thing} is {rng.choice(same)} and {rng.choice(same)}",
        f"the {thing} is not {rng.choice(opposite)} at all",
        f"what a {rng.choice(same)} {thing}",
        f"the {thing} was {rng.choice(NEUTRAL)} but {rng.choice(same)}",
    ]
    return rng.choice(templates)


def examples(rng: random.Random, count: int) -> list[tuple[str, str]]:
    rows = []
    for _ in range(count):
        draw = rng.random()
        label = "neutral" if draw < 0.2 else ("positive" if draw < 0.6 else "negative")
        rows.append((sentence(rng, label), label))
    return rows


def write(name: str, rows: list[tuple[str, str]]) -> None:
    tsv = "text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows)
    jsonl = "".join(json.dumps({"id": f"{name}-{i}", "text": text, "label": label}) + "\n"
                    for i, (text, label) in enumerate(rows, start=1))
    fasttext = "".join(f"__label__{label} {text}\n" for text, label in rows)
    (HERE / f"{name}.tsv").write_text(tsv, encoding="utf-8")
    (HERE / f"{name}.jsonl").write_text(jsonl, encoding="utf-8")
    (HERE / f"{name}.ft").write_text(fasttext, encoding="utf-8")


def main() -> None:
    rng = random.Random(SEED)
    splits = {name: examples(rng, size) for name, size in SIZES.items()}
    for name, rows in splits.items():
        write(name, rows)
    texts = [text for text, _ in splits["valid"][:20]]
    texts.insert(5, "")  # a blank line: `rnncli classify` answers it with a blank line
    (HERE / "unlabelled.txt").write_text("\n".join(texts) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
