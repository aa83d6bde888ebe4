"""Which rows of a file repeat an earlier row's key: a set of 64-bit key hashes in sorted runs.

Sorted runs merged like a log-structured tree keep membership tests cheap (a binary search per
run) and memory at 8 bytes per distinct key, so a 10-million-row file needs about 80 MB.
"""

from __future__ import annotations

import numpy as np


class SeenKeys:
    """Key hashes seen so far in one file."""

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []

    def first_seen(self, hashes: np.ndarray) -> np.ndarray:
        """A mask of the hashes seen neither earlier in this batch nor in earlier batches."""
        _, first = np.unique(hashes, return_index=True)
        fresh = np.zeros(len(hashes), dtype=bool)
        fresh[first] = True
        for run in self.runs:
            at = np.searchsorted(run, hashes).clip(max=len(run) - 1)
            fresh &= run[at] != hashes
        self.add(np.sort(hashes[fresh]))
        return fresh

    def add(self, run: np.ndarray) -> None:
        """Keep runs whose sizes halve from the first to the last, merging like a binary counter
        (runs are disjoint and sorted, so a merge is one sort of their concatenation)."""
        if len(run) == 0:
            return
        self.runs.append(run)
        while len(self.runs) > 1 and len(self.runs[-2]) <= len(self.runs[-1]):
            last = self.runs.pop()
            self.runs[-1] = np.sort(np.concatenate([self.runs[-1], last]))
