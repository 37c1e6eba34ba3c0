"""Write the small synthetic NER samples in data/tag/ (all text made up here).

    python data/tag/make_samples.py            # rewrites the files beside this script

Files: train.iob1.conll / valid.iob1.conll (word POS NER, IOB1 as in CoNLL-2003),
train.iob2.conll / valid.iob2.conll (word NER, IOB2), sentences.txt (plain text, one
sentence per line). Deterministic: the same files every run.
"""

from __future__ import annotations

import random
from pathlib import Path

FIRST = ["Anna", "Boris", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas",
         "Kira", "Lukas", "Mira", "Nils", "Olga", "Pavel", "Rosa", "Stefan", "Tara", "Viktor"]
LAST = ["Adler", "Brandt", "Castell", "Dorn", "Eskola", "Falk", "Grau", "Holm", "Iversen", "Jansen",
        "Kovac", "Lind", "Moreau", "Novak", "Ortiz", "Petrov", "Quist", "Roth", "Sauer", "Thorsen"]
PLACES = ["Valmora", "Kesterby", "Northwick", "Lorvane", "Ashgrove", "Dunmere", "Port Ellis",
          "New Halden", "Riverton", "Saint Aubel", "Corvia", "Estmark", "Bellhaven", "Tarnow Vale"]
ORGS = ["Valmora United", "Kesterby Rovers", "Northwick Bank", "Orion Motors", "Helix Labs",
        "the Riverton Council", "Corvia Airlines", "Estmark Telecom", "Bluefin Group", "Apex Mining"]
MISC = ["Valmoran", "Corvian", "Estmarkish", "Northern Cup", "Winter Games", "Harvest Festival",
        "Lorvanian", "Open Series"]
TEMPLATES = [
    "{PER} said on Monday that {ORG} would open an office in {LOC} .",
    "{PER} scored twice as {ORG} beat {ORG} 3 - 1 in {LOC} .",
    "Shares in {ORG} rose 4 percent after the {MISC} results .",
    "The {MISC} minister {PER} arrived in {LOC} late on Friday .",
    "{LOC} and {LOC} agreed to extend the {MISC} trade pact .",
    "{PER} , who joined {ORG} in 1998 , will lead the team .",
    "Police in {LOC} questioned {PER} about the missing files .",
    "{ORG} {ORG} merger talks ended without a deal .",
    "{PER} {PER} duo won the {MISC} title .",
    "It rained all week in {LOC} .",
    "Nobody expected the result .",
    "{ORG} said profits fell 12 percent in the third quarter .",
]
TAGGED_WORD = {"said", "scored", "rose", "arrived", "agreed", "joined", "questioned", "ended", "won",
               "rained", "expected", "fell", "beat", "will", "lead", "open", "extend", "would"}


def entity(kind: str, rng: random.Random) -> list[str]:
    if kind == "PER":
        return [rng.choice(FIRST), rng.choice(LAST)] if rng.random() < 0.7 else [rng.choice(LAST)]
    pool = {"LOC": PLACES, "ORG": ORGS, "MISC": MISC}[kind]
    return rng.choice(pool).split()


def pos(word: str) -> str:
    if word[0].isupper():
        return "NNP"
    if word[0].isdigit():
        return "CD"
    if not word[0].isalnum():
        return word
    return "VBD" if word in TAGGED_WORD else "NN"


def sentence(rng: random.Random) -> tuple[list[str], list[tuple[str, int, int]]]:
    """Words and entity spans (type, start, end)."""
    words, spans = [], []
    for piece in rng.choice(TEMPLATES).split():
        if piece.startswith("{"):
            kind = piece[1:-1]
            start = len(words)
            words += entity(kind, rng)
            spans.append((kind, start, len(words)))
        else:
            words.append(piece)
    return words, spans


def tags_for(length: int, spans, scheme: str) -> list[str]:
    tags = ["O"] * length
    previous = None
    for kind, start, end in spans:
        adjacent = previous is not None and previous[0] == kind and previous[2] == start
        first = "B" if scheme == "iob2" or adjacent else "I"
        tags[start] = f"{first}-{kind}"
        for i in range(start + 1, end):
            tags[i] = f"I-{kind}"
        previous = (kind, start, end)
    return tags


def write(path: Path, rows: list[list[list[str]]], docstart: bool) -> None:
    lines = ["-DOCSTART- -X- O", ""] if docstart else []
    for sentence_rows in rows:
        lines += [" ".join(row) for row in sentence_rows] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")  # no final newline: the reader must cope


def main(directory: Path = Path(__file__).resolve().parent) -> None:
    rng = random.Random(2003)
    splits = {"train": [sentence(rng) for _ in range(400)], "valid": [sentence(rng) for _ in range(80)]}
    for name, data in splits.items():
        write(directory / f"{name}.iob1.conll",
              [[[w, pos(w), t] for w, t in zip(words, tags_for(len(words), spans, "iob1"))]
               for words, spans in data], docstart=True)
        write(directory / f"{name}.iob2.conll",
              [[[w, t] for w, t in zip(words, tags_for(len(words), spans, "iob2"))] for words, spans in data],
              docstart=False)
    text = "\n".join(" ".join(words) for words, _ in splits["valid"][:20]) + "\n"
    (directory / "sentences.txt").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
