"""Bounded summaries for one pass over a file: length percentiles, record hashes, label counts.

Lengths: a histogram, exact for lengths below EXACT (1024) and, above it, in buckets 1%
wide (each bucket counted at its lower edge), so a percentile above 1024 is within 1% of
the true one; memory is a few kilobytes whatever the file. Counts above a limit
(`--max-len`) are kept exactly, apart from the histogram.

Duplicates and overlap: each record is reduced to a 64-bit BLAKE2b hash, stored with its
line number in compact arrays (12 bytes a record, never the text). Two records with the
same hash are taken as equal; for 10 million records the chance that any two different
ones collide is about 3 in a million.
"""

from __future__ import annotations

import hashlib
import math
from array import array
from collections import Counter
from typing import Any, Iterable

EXACT = 1024
RATIO = 1.01
PERCENTILES = (50, 90, 95, 99)
MAX_LABELS = 10_000      # distinct labels counted; more is itself a finding (text in the label column?)


def hash64(*parts: str) -> int:
    """One 64-bit hash of the parts (joined with a separator no text line can hold)."""
    digest = hashlib.blake2b("\n".join(parts).encode("utf-8", errors="surrogatepass"), digest_size=8)
    return int.from_bytes(digest.digest(), "little")


class LengthStats:
    """Counts, mean, min, max and percentiles of lengths; exact counts above `limits`."""

    def __init__(self, unit: str, limits: Iterable[int] = ()):
        self.unit = unit
        self.exact = [0] * EXACT
        self.buckets: Counter[int] = Counter()
        self.count = self.total = 0
        self.low: int | None = None
        self.high = 0
        self.high_line: int | None = None
        self.over = {limit: 0 for limit in limits if limit}

    def add(self, length: int, line: int | None = None) -> None:
        self.count += 1
        self.total += length
        self.low = length if self.low is None else min(self.low, length)
        if length > self.high or self.high_line is None:
            self.high, self.high_line = max(length, self.high), line
        if length < EXACT:
            self.exact[length] += 1
        else:
            self.buckets[int(math.log(length / EXACT, RATIO))] += 1
        for limit in self.over:
            if length > limit:
                self.over[limit] += 1

    def percentile(self, p: float) -> int:
        """The smallest length L with at least p% of the lengths <= L (bucketed above EXACT)."""
        wanted = math.ceil(self.count * p / 100)
        seen = 0
        for length, n in enumerate(self.exact):
            seen += n
            if n and seen >= wanted:
                return length
        for bucket in sorted(self.buckets):
            seen += self.buckets[bucket]
            if seen >= wanted:
                return min(self.high, math.ceil(EXACT * RATIO ** bucket))
        return self.high

    def to_dict(self) -> dict[str, Any]:
        if not self.count:
            return {"unit": self.unit, "count": 0}
        return {"unit": self.unit, "count": self.count, "min": self.low, "mean": round(self.total / self.count, 2),
                "max": self.high, "max_line": self.high_line,
                **{f"p{p}": self.percentile(p) for p in PERCENTILES},
                "longer_than": {str(limit): n for limit, n in self.over.items()}}


class HashIndex:
    """64-bit record hashes with their line numbers (and optionally a second hash, e.g. of
    a label, to find equal texts with different labels)."""

    def __init__(self, with_value: bool = False):
        self.keys = array("Q")
        self.lines = array("I")
        self.values = array("Q") if with_value else None

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: int, line: int, value: int | None = None) -> None:
        self.keys.append(key)
        self.lines.append(min(line, 0xFFFFFFFF))
        if self.values is not None:
            self.values.append(value or 0)

    def sorted_view(self):
        """(sorted keys, their lines, their values or None, index of each group's first)."""
        import numpy as np

        keys = np.frombuffer(self.keys, dtype=np.uint64) if len(self.keys) else np.zeros(0, np.uint64)
        order = np.argsort(keys, kind="stable")       # equal keys stay in line order
        sorted_keys = keys[order]
        lines = np.frombuffer(self.lines, dtype=np.uint32)[order] if len(self.keys) else np.zeros(0, np.uint32)
        values = None
        if self.values is not None and len(self.keys):
            values = np.frombuffer(self.values, dtype=np.uint64)[order]
        starts = np.r_[True, sorted_keys[1:] != sorted_keys[:-1]] if len(keys) else np.zeros(0, bool)
        group_first = np.maximum.accumulate(np.where(starts, np.arange(len(keys)), 0))
        return sorted_keys, lines, values, starts, group_first

    def duplicates(self, examples: int = 5) -> tuple[int, list[tuple[int, int]], int, list[tuple[int, int]]]:
        """(records repeating an earlier one, first (line, earlier line) pairs,
        records whose value differs from their key's first record, first such pairs)."""
        import numpy as np

        keys, lines, values, starts, first = self.sorted_view()
        repeat = ~starts
        pairs = sorted(zip(lines[repeat].tolist(), lines[first[repeat]].tolist()))
        conflicts: list[tuple[int, int]] = []
        conflict_count = 0
        if values is not None:
            differs = repeat & (values != values[first])
            conflict_count = int(np.count_nonzero(differs))
            conflicts = sorted(zip(lines[differs].tolist(), lines[first[differs]].tolist()))[:examples]
        return int(np.count_nonzero(repeat)), pairs[:examples], conflict_count, conflicts

    def overlap(self, other: "HashIndex", examples: int = 5) -> tuple[int, list[tuple[int, int]]]:
        """(records of self also in `other`, first (line here, line in other) pairs)."""
        import numpy as np

        if not len(self) or not len(other):
            return 0, []
        keys, lines, _, _, _ = other.sorted_view()
        mine = np.frombuffer(self.keys, dtype=np.uint64)
        where = np.minimum(np.searchsorted(keys, mine), len(keys) - 1)   # leftmost: the first occurrence
        found = keys[where] == mine
        pairs = sorted(zip(np.frombuffer(self.lines, dtype=np.uint32)[found].tolist(),
                           lines[where[found]].tolist()))
        return int(np.count_nonzero(found)), pairs[:examples]


class LabelCounts:
    """Counts of labels, and the line each was first seen on; at most MAX_LABELS distinct."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first: dict[str, int] = {}
        self.overflow = 0

    def add(self, label: str, line: int) -> None:
        if label in self.counts or len(self.counts) < MAX_LABELS:
            self.counts[label] += 1
            self.first.setdefault(label, line)
        else:
            self.overflow += 1

    def imbalance(self) -> float | None:
        """The largest class over the smallest (None with fewer than two labels)."""
        if len(self.counts) < 2:
            return None
        return max(self.counts.values()) / min(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {"distinct": len(self.counts), "counts": dict(self.counts.most_common()),
                "imbalance": None if self.imbalance() is None else round(self.imbalance(), 2),
                **({"uncounted": self.overflow} if self.overflow else {})}
