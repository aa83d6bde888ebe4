"""Which rows of a file repeat an earlier row's key, for files of any length, in bounded memory.

Keys arrive as 64-bit hashes. A blocked Bloom filter (three bits of one 64-bit word per key, so
one memory access per lookup; 16 bits per expected key, at most 64 MB) answers "certainly new"
for almost every key. Only its positives are checked exactly, by binary search in the sorted
hashes seen. Those are kept in runs, merged sixteen at a time as they grow; once the runs in
memory hold MEMORY_KEYS hashes (32 MB) they are merged and written to a temporary file, where a
lookup reads only the 8 KB block that a small in-memory index points to. Memory is therefore
bounded, about 130 MB at most (filter, runs, a merge's copy), however long the file. Past about
30 million keys the capped filter's positives grow (1.2% at 40 million), and with them the
lookups on disk: slower, never inexact.
"""

from __future__ import annotations

import mmap
import tempfile
from pathlib import Path

import numpy as np

MIN_WORD_BITS, MAX_WORD_BITS = 16, 23  # 512 KB to 64 MB
MEMORY_KEYS = 1 << 22  # hashes held in memory before they go to disk (32 MB)
SIX = np.uint64(63)
FANOUT = 16
BLOCK = 1024  # hashes per indexed block of a run on disk (8 KB)


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


class DiskRun:
    """Sorted hashes in a file, mapped read-only; every BLOCK-th hash is kept in memory."""

    def __init__(self, hashes: np.ndarray, path: Path) -> None:
        hashes.tofile(path)
        self.size = len(hashes)
        self.index = hashes[::BLOCK].copy()
        with open(path, "rb") as handle:
            self.map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        self.hashes = np.frombuffer(self.map, dtype=np.uint64)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """Whether each key is in the run: a binary search within the key's block, all keys at
        once. The pages read are then released, so the run never stays resident."""
        lo = (np.searchsorted(self.index, keys, side="right") - 1).clip(min=0) * BLOCK
        hi = np.minimum(lo + BLOCK, self.size)
        for _ in range(BLOCK.bit_length()):  # lo = the first position whose hash >= key
            mid = (lo + hi) // 2
            less = (lo < hi) & (self.hashes[np.minimum(mid, self.size - 1)] < keys)
            lo, hi = np.where(less, mid + 1, lo), np.where(less | (lo >= hi), hi, mid)
        found = self.hashes[np.minimum(lo, self.size - 1)] == keys
        self.map.madvise(mmap.MADV_DONTNEED)  # cached by the OS, not counted as ours
        return found

    def close(self) -> None:
        """Unmap the file."""
        del self.hashes
        self.map.close()


class SeenKeys:
    """Key hashes seen so far in one file. Use as a context manager: runs spilled to disk are
    deleted on leaving it."""

    def __init__(self, expected: int = 0) -> None:
        """`expected`: about how many keys the file holds (sizes the filter: 16 bits a key)."""
        self.word_bits = min(max(int(expected // 4).bit_length(), MIN_WORD_BITS), MAX_WORD_BITS)
        self.bloom = np.zeros(1 << self.word_bits, dtype=np.uint64)
        self.runs: list[np.ndarray] = []
        self.disk: list[DiskRun] = []
        self.folder: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> SeenKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete the runs on disk."""
        for run in self.disk:
            run.close()
        self.disk = []
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None

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
        for run in self.disk if len(doubtful) else []:
            fresh[doubtful[run.contains(keys)]] = False
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
        if sum(map(len, self.runs)) >= MEMORY_KEYS:
            self.spill()

    def spill(self) -> None:
        """Merge the runs in memory into one run on disk."""
        merged = np.concatenate(self.runs)
        merged.sort(kind="stable")
        self.runs = []
        if self.folder is None:
            self.folder = tempfile.TemporaryDirectory(prefix="citybrain-dedupe-")
        path = Path(self.folder.name) / f"run{len(self.disk)}.u64"
        self.disk.append(DiskRun(merged, path))
