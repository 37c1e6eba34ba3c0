"""Checks of plain text: a language model's lines, and translation's parallel files.

Lengths are counted in whitespace-separated words. Training counts sentencepiece pieces,
and a word is at least one piece, so "longer than --max-len words" is a lower bound on
what the limit drops. A language model's short lines (speaker names, headings) repeat by
nature, so its duplicate and overlap checks look only at lines of LM_MIN_WORDS words or more.
"""

from __future__ import annotations

from itertools import zip_longest
from typing import Any

from rnncli.datacheck.common import CheckOptions, duplicates, empty_lines, file_entry, length_limit, overlap
from rnncli.datacheck.report import Findings, Report
from rnncli.datacheck.scan import ByteStats, scan
from rnncli.datacheck.stats import HashIndex, LengthStats, hash64
from rnncli.readers.text import display_name

LM_MIN_WORDS = 5


def check_lm(files: dict[str, str], options: CheckOptions, findings: Findings) -> Report:
    entries, indexes = [], {}
    for role in ("train", "valid"):
        if files.get(role) is None:
            continue
        name, stats = display_name(files[role]), ByteStats()
        words, chars = LengthStats("words", [options.max_len or 0]), LengthStats("characters")
        index = HashIndex()
        for number, text in scan(files[role], findings, stats):
            if not text.strip():
                continue
            count = len(text.split())
            words.add(count, number)
            chars.add(len(text), number)
            if count >= LM_MIN_WORDS:
                index.add(hash64(text), number)
        empty_lines(findings, name, stats, "note", "kept: a language model reads them as paragraph breaks")
        length_limit(findings, name, words, options.max_len, "counted", "--max-len", "lines")
        entries.append(file_entry(role, name, stats, records=words.count, lengths=words.to_dict(),
                                  characters=chars.to_dict(),
                                  duplicates=duplicates(findings, name, index, f"lines of {LM_MIN_WORDS}+ words")))
        indexes[role] = (name, index)
    pairs: dict[str, Any] = {}
    if "valid" in indexes:
        (train_name, train), (valid_name, valid) = indexes["train"], indexes["valid"]
        pairs["overlap"] = overlap(findings, valid_name, valid, train_name, train, f"lines of {LM_MIN_WORDS}+ words")
    return Report("lm", entries, findings.sorted(), pairs)


def check_translate(files: dict[str, str], options: CheckOptions, findings: Findings,
                    default_max_len: int) -> Report:
    limit = options.max_len or default_max_len
    entries, indexes, pairs = [], {}, {}
    for split in ("train", "valid"):
        src, tgt = files.get(f"{split}_src"), files.get(f"{split}_tgt")
        if src is None and tgt is None:
            continue
        if src is None or tgt is None:
            missing = f"--{split}-src" if src is None else f"--{split}-tgt"
            findings.add("error", "missing-side", display_name(src or tgt), None,
                         f"a parallel file needs its other side: give {missing}")
            continue
        split_entries, pair_index, src_index, aligned = check_parallel(split, src, tgt, limit, findings)
        entries += split_entries
        pairs[f"{split}_aligned"] = aligned
        indexes[split] = (display_name(src), pair_index, src_index)
    if "train" in indexes and "valid" in indexes:
        (train_name, _, train_src), (valid_name, _, valid_src) = indexes["train"], indexes["valid"]
        pairs["overlap"] = overlap(findings, valid_name, valid_src, train_name, train_src, "source sentences")
    return Report("translate", entries, findings.sorted(), pairs)


def check_parallel(split: str, src: str, tgt: str, limit: int, findings: Findings):
    """Read both sides together, each once; lengths, empty sides, duplicates, alignment."""
    names = display_name(src), display_name(tgt)
    stats = ByteStats(), ByteStats()
    lengths = LengthStats("words", [limit]), LengthStats("words", [limit])
    pair_index, src_index = HashIndex(), HashIndex()
    dropped = empty_pairs = 0
    first_dropped = None
    for left, right in zip_longest(scan(src, findings, stats[0]), scan(tgt, findings, stats[1])):
        if left is None or right is None:
            continue   # the counts differ: reported below, once both files are read
        number, sides = left[0], (left[1], right[1])
        counts = [len(side.split()) for side in sides]
        if not all(side.strip() for side in sides):
            empty_pairs += 1
            findings.add("warning", "empty-side", names[0], number, f"line {number} is empty on one side or "
                         "both; training drops such pairs", detail="empty " + ("source" if not sides[0].strip()
                                                                                 else "target"))
            continue
        for side, count in enumerate(counts):
            lengths[side].add(count, number)
        if max(counts) > limit:
            dropped += 1
            first_dropped = first_dropped or number
        pair_index.add(hash64(*sides), number)
        src_index.add(hash64(sides[0]), number)
    aligned = stats[0].lines == stats[1].lines
    if not aligned:
        findings.add("error", "line-count-mismatch", names[0], None,
                     f"{names[0]} has {stats[0].lines:,} lines but {names[1]} has {stats[1].lines:,} lines; parallel "
                     "files must be aligned line by line")
    if dropped:
        findings.add("warning", "over-max-len", names[0], first_dropped,
                     f"at least {dropped:,} pair(s) have a side longer than {limit:,} words and would be dropped "
                     f"by --max-len {limit} (pieces are at least as many as words)", count=0)
        findings.items[("over-max-len", names[0])].count = dropped
    entries = []
    for side, role in enumerate(("src", "tgt")):
        entries.append(file_entry(f"{split}_{role}", names[side], stats[side], records=lengths[side].count,
                                  lengths=lengths[side].to_dict()))
    entries[0]["duplicates"] = duplicates(findings, names[0], pair_index, "pairs (source and target)")
    entries[0]["empty_pairs"] = empty_pairs
    entries[0]["dropped_by_max_len"] = dropped
    return entries, pair_index, src_index, aligned
