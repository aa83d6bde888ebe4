"""Which rows of a file repeat an earlier row's key, for files of any length.

Keys arrive as 64-bit hashes. A blocked Bloom filter (three bits of one 64-bit word per key, so
one memory access per lookup; 16 bits per expected key) answers "certainly new" for almost every
key; only its rare positives (about 0.3%) are checked exactly, by binary search in the sorted
hashes seen, kept in a few runs merged as they grow. Memory: 10 bytes per distinct key
(100 MB for 10 million).
"""

from __future__ import annotations

import numpy as np

MIN_WORD_BITS, MAX_WORD_BITS = 16, 25  # 512 KB to 256 MB
SIX = np.uint64(63)
FANOUT = 16


def probe(hashes: np.ndarray, word_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Each hash's word (its top bits) and its three bits in that word (from its low bits)."""
    words = hashes >> np.uint64(64 - word_bits)
    one = np.uint64(1)
    masks = (
        (one << (hashes & SIX))
        | (one << ((hashes >> np.uint64(6)) & SIX))
        | (one << ((hashes >> np.uint64(12)) & SIX))
    )
    return words, masks


class SeenKeys:
    """Key hashes seen so far in one file."""

    def __init__(self, expected: int = 0) -> None:
        """`expected`: about how many keys the file holds (sizes the filter: 16 bits a key)."""
        self.word_bits = min(max(int(expected // 4).bit_length(), MIN_WORD_BITS), MAX_WORD_BITS)
        self.bloom = np.zeros(1 << self.word_bits, dtype=np.uint64)
        self.runs: list[np.ndarray] = []

    def maybe_seen(self, hashes: np.ndarray) -> np.ndarray:
        """False: certainly not seen; True: perhaps."""
        words, masks = probe(hashes, self.word_bits)
        return (self.bloom[words] & masks) == masks

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """A mask of the hashes seen neither earlier in this batch nor in earlier batches."""
        hashes = hashes.astype(np.uint64, copy=False)
        ordered = np.sort(hashes)
        fresh = np.ones(len(hashes), dtype=bool)
        if (ordered[1:] == ordered[:-1]).any():  # rare: repeats inside the batch
            fresh[:] = False
            fresh[np.unique(hashes, return_index=True)[1]] = True
        doubtful = np.flatnonzero(fresh & self.maybe_seen(hashes))
        doubtful = doubtful[np.argsort(hashes[doubtful])]  # sorted lookups: cache-friendly
        keys = hashes[doubtful]
        for run in self.runs if len(doubtful) else []:
            at = np.searchsorted(run, keys).clip(max=len(run) - 1)
            fresh[doubtful[run[at] == keys]] = False
        self.remember(ordered if fresh.all() else np.sort(hashes[fresh]))
        return fresh

    def remember(self, new: np.ndarray) -> None:
        """Add new, distinct, sorted hashes to the filter and keep them as a run."""
        if len(new) == 0:
            return
        words, masks = probe(new, self.word_bits)  # sorted hashes: words in order
        starts = np.flatnonzero(np.concatenate([[True], words[1:] != words[:-1]]))
        self.bloom[words[starts]] |= np.bitwise_or.reduceat(masks, starts)
        self.runs.append(new)
        # Size-tiered merging: sixteen runs of one size become one run (a stable sort of sorted
        # runs is a merge). A file of n batches keeps at most 15 runs a tier, 15 log16(n) in
        # all: lookups stay cheap as files grow, and each key is merged only log16(n) times.
        while len(self.runs) >= FANOUT and len(self.runs[-FANOUT]) < FANOUT * len(new):
            merged = np.concatenate(self.runs[-FANOUT:])
            merged.sort(kind="stable")  # in place: one copy of the tier, not two
            self.runs[-FANOUT:] = [merged]
            new = merged
