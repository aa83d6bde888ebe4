"""Which rows of a file repeat an earlier row's key, for files of any length.

Keys arrive as 64-bit hashes. A blocked Bloom filter (32 MB; three bits of one 64-bit word per
key, so one memory access per lookup) answers "certainly new" for almost every key; only its
rare positives (about 0.2% at 10 million keys) are checked exactly, by binary search in the
sorted hashes of each earlier batch. Memory: 32 MB plus 8 bytes per distinct key.
"""

from __future__ import annotations

import numpy as np

WORD_BITS = 22  # 4M words of 64 bits: 32 MB
SIX = np.uint64(63)


def probe(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each hash's word (its top bits) and its three bits in that word (from its low bits)."""
    words = hashes >> np.uint64(64 - WORD_BITS)
    one = np.uint64(1)
    masks = (
        (one << (hashes & SIX))
        | (one << ((hashes >> np.uint64(6)) & SIX))
        | (one << ((hashes >> np.uint64(12)) & SIX))
    )
    return words, masks


class SeenKeys:
    """Key hashes seen so far in one file."""

    def __init__(self) -> None:
        self.bloom = np.zeros(1 << WORD_BITS, dtype=np.uint64)
        self.runs: list[np.ndarray] = []

    def maybe_seen(self, hashes: np.ndarray) -> np.ndarray:
        """False: certainly not seen; True: perhaps."""
        words, masks = probe(hashes)
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
        for run in self.runs:
            if len(doubtful) == 0:
                break
            at = np.searchsorted(run, hashes[doubtful]).clip(max=len(run) - 1)
            fresh[doubtful[run[at] == hashes[doubtful]]] = False
        self.remember(ordered if fresh.all() else np.sort(hashes[fresh]))
        return fresh

    def remember(self, new: np.ndarray) -> None:
        """Add new, distinct, sorted hashes to the filter and keep them as a run."""
        if len(new) == 0:
            return
        words, masks = probe(new)
        # A fancy-indexed `|=` lands one write per repeated word: repeat for the bits lost
        # (two or three rounds; still several times faster than `np.bitwise_or.at`).
        while len(words):
            self.bloom[words] |= masks
            lost = (self.bloom[words] & masks) != masks
            words, masks = words[lost], masks[lost]
        self.runs.append(new)
