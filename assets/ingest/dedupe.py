"""Which rows of a file repeat an earlier row's key, for files of any length.

Keys arrive as 64-bit hashes. A Bloom filter (16 MB, two probes) answers "certainly new" for
almost every key; only its rare positives are checked exactly, by binary search in the sorted
hashes of each earlier batch. Memory: 16 MB plus 8 bytes per distinct key (80 MB for 10 million).
"""

from __future__ import annotations

import numpy as np

BLOOM_BITS = 1 << 27


class SeenKeys:
    """Key hashes seen so far in one file."""

    def __init__(self) -> None:
        self.bloom = np.zeros(BLOOM_BITS // 64, dtype=np.uint64)
        self.runs: list[np.ndarray] = []

    @staticmethod
    def probes(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two bit positions per hash, from its low and high halves."""
        mask = np.uint64(BLOOM_BITS - 1)
        return hashes & mask, (hashes >> np.uint64(32)) & mask

    def maybe_seen(self, hashes: np.ndarray) -> np.ndarray:
        """False: certainly not seen; True: perhaps (about 2% false positives at 10M keys)."""
        out = np.ones(len(hashes), dtype=bool)
        for bit in self.probes(hashes):
            words = self.bloom[bit >> np.uint64(6)]
            out &= (words >> (bit & np.uint64(63))) & np.uint64(1) == 1
        return out

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """A mask of the hashes seen neither earlier in this batch nor in earlier batches."""
        hashes = hashes.astype(np.uint64, copy=False)
        _, first = np.unique(hashes, return_index=True)
        fresh = np.zeros(len(hashes), dtype=bool)
        fresh[first] = True
        doubtful = np.flatnonzero(fresh & self.maybe_seen(hashes))
        for run in self.runs:
            if len(doubtful) == 0:
                break
            at = np.searchsorted(run, hashes[doubtful]).clip(max=len(run) - 1)
            fresh[doubtful[run[at] == hashes[doubtful]]] = False
        self.remember(hashes[fresh])
        return fresh

    def remember(self, new: np.ndarray) -> None:
        """Add new, distinct hashes to the filter and keep them as a sorted run."""
        if len(new) == 0:
            return
        for bit in self.probes(new):
            np.bitwise_or.at(self.bloom, bit >> np.uint64(6), np.uint64(1) << (bit & np.uint64(63)))
        self.runs.append(np.sort(new))
