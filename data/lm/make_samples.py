"""Writes the language-model sample corpus: short verses from a small hand-written grammar.

Everything here is generated (no text copied from anywhere), deterministic for a seed:
    python data/lm/make_samples.py            # writes data/lm/train.txt and data/lm/valid.txt
"""

from __future__ import annotations

import random
from pathlib import Path

NAMES = ["Ada", "Bram", "Cleo", "Dario", "Elin", "Farid", "Greta", "Hugo", "Ines", "Joon",
         "Kira", "Lars", "Mina", "Nils", "Oona", "Pavel"]
PLACES = ["the mill", "the harbour", "the old bridge", "the market", "the orchard", "the lighthouse",
          "the river", "the bakery", "the hill", "the station", "the garden", "the library"]
THINGS = ["a lantern", "the bread", "a letter", "the boat", "a song", "the map", "a basket of apples",
          "the key", "a red kite", "the clock", "an old book", "a warm coat"]
VERBS_T = ["carried", "found", "painted", "mended", "wanted", "forgot", "remembered", "lost", "sold",
           "borrowed", "hid", "gave away"]
VERBS_I = ["sang", "waited", "laughed", "slept", "walked home", "looked at the sea", "counted the stars",
           "listened", "danced", "stayed awake"]
TIMES = ["at dawn", "in the evening", "on Sunday", "before the rain", "after supper", "at midnight",
         "in winter", "when the bells rang", "all morning", "by candlelight"]
MOODS = ["quietly", "happily", "slowly", "again", "at last", "with care", "in a hurry", "alone"]
WEATHER = ["The wind was cold", "The sky was grey", "The sun was low", "The rain came down",
           "The snow lay deep", "The night was clear", "The fog rolled in", "The air smelled of salt"]


def sentence(rng: random.Random) -> str:
    who = rng.choice(NAMES)
    form = rng.randrange(6)
    if form == 0:
        return f"{who} {rng.choice(VERBS_T)} {rng.choice(THINGS)} {rng.choice(TIMES)}."
    if form == 1:
        return f"{who} {rng.choice(VERBS_I)} near {rng.choice(PLACES)} {rng.choice(MOODS)}."
    if form == 2:
        return f"{rng.choice(WEATHER)}, and {who} {rng.choice(VERBS_I)}."
    if form == 3:
        other = rng.choice([n for n in NAMES if n != who])
        return f"{who} and {other} went to {rng.choice(PLACES)} {rng.choice(TIMES)}."
    if form == 4:
        return f"\"Where is {rng.choice(THINGS)}?\" asked {who}."
    return f"At {rng.choice(PLACES)}, {who} {rng.choice(VERBS_T)} {rng.choice(THINGS)} {rng.choice(MOODS)}."


def verse(rng: random.Random) -> str:
    return "\n".join(sentence(rng) for _ in range(rng.randint(2, 5)))


def corpus(seed: int, verses: int) -> str:
    rng = random.Random(seed)
    return "\n\n".join(verse(rng) for _ in range(verses)) + "\n"


def main() -> None:
    here = Path(__file__).resolve().parent
    (here / "train.txt").write_text(corpus(seed=1, verses=900), encoding="utf-8")
    (here / "valid.txt").write_text(corpus(seed=2, verses=90), encoding="utf-8")


if __name__ == "__main__":
    main()
