"""Write the tiny synthetic English -> pseudo-German parallel sample used by tests and demos.

Rule-based and deterministic (seeded): sentences are built from a small grammar, and the
"German" side applies word-by-word translation with gender agreement (der/die/das,
adjective endings), an accusative article change, and verb-second word order when a time
adverb opens the sentence. Nothing is copied from any corpus.

    python data/translate/make_samples.py            # rewrites data/translate/*.{en,de}
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZES = {"train": 2000, "valid": 150, "test": 100}
SEED = 20240

# english noun -> (pseudo-German noun, gender m/f/n)
NOUNS = {
    "dog": ("Hund", "m"), "cat": ("Katze", "f"), "child": ("Kind", "n"), "man": ("Mann", "m"),
    "woman": ("Frau", "f"), "ball": ("Ball", "m"), "house": ("Haus", "n"), "car": ("Wagen", "m"),
    "bird": ("Vogel", "m"), "flower": ("Blume", "f"), "book": ("Buch", "n"), "boat": ("Boot", "n"),
    "girl": ("Maedchen", "n"), "boy": ("Junge", "m"), "street": ("Strasse", "f"), "tree": ("Baum", "m"),
}
ADJECTIVES = {"small": "klein", "big": "gross", "red": "rot", "old": "alt", "young": "jung",
              "green": "gruen", "happy": "froh", "black": "schwarz"}
VERBS = {"sees": "sieht", "finds": "findet", "carries": "traegt", "likes": "mag", "follows": "folgt",
         "paints": "malt", "watches": "beobachtet"}
ADVERBS = {"today": "heute", "now": "jetzt", "often": "oft", "later": "spaeter"}
PLACES = {"in the park": "im Park", "near the river": "am Fluss", "on the beach": "am Strand",
          "at home": "zu Hause"}
DEFINITE = {"m": ("der", "den"), "f": ("die", "die"), "n": ("das", "das")}
INDEFINITE = {"m": ("ein", "einen"), "f": ("eine", "eine"), "n": ("ein", "ein")}


def noun_phrase(rng: random.Random, accusative: bool) -> tuple[str, str]:
    noun = rng.choice(sorted(NOUNS))
    german, gender = NOUNS[noun]
    definite = rng.random() < 0.6
    article_en = "the" if definite else "a"
    article_de = (DEFINITE if definite else INDEFINITE)[gender][1 if accusative else 0]
    words_en, words_de = [article_en], [article_de]
    if rng.random() < 0.5:
        adjective = rng.choice(sorted(ADJECTIVES))
        if article_en == "a" and adjective[0] in "aeiou":
            words_en[0] = "an"
        words_en.append(adjective)
        weak = definite and not (accusative and gender == "m")
        ending = "e" if weak else {"m": "en" if accusative else "er", "f": "e", "n": "es"}[gender]
        words_de.append(ADJECTIVES[adjective] + ending)
    words_en.append(noun)
    words_de.append(german)
    return " ".join(words_en), " ".join(words_de)


def sentence(rng: random.Random) -> tuple[str, str]:
    subject_en, subject_de = noun_phrase(rng, accusative=False)
    object_en, object_de = noun_phrase(rng, accusative=True)
    verb = rng.choice(sorted(VERBS))
    place = rng.choice(sorted(PLACES)) if rng.random() < 0.4 else None
    adverb = rng.choice(sorted(ADVERBS)) if rng.random() < 0.35 else None
    english = [subject_en, verb, object_en] + ([place] if place else [])
    if adverb:  # verb second: the adverb opens, the verb comes before the subject
        english = [adverb] + english
        german = [ADVERBS[adverb], VERBS[verb], subject_de]
    else:
        german = [subject_de, VERBS[verb]]
    german += ([PLACES[place]] if place else []) + [object_de]
    en, de = " ".join(english) + ".", " ".join(german) + "."
    return en[0].upper() + en[1:], de[0].upper() + de[1:]


def main() -> None:
    rng = random.Random(SEED)
    for split, size in SIZES.items():
        pairs = [sentence(rng) for _ in range(size)]
        (HERE / f"{split}.en").write_text("".join(p[0] + "\n" for p in pairs), encoding="utf-8")
        (HERE / f"{split}.de").write_text("".join(p[1] + "\n" for p in pairs), encoding="utf-8")


if __name__ == "__main__":
    main()
