"""Which rows of a file repeat an earlier row's key, for files of any length, in bounded memory.

Keys arrive as 64-bit hashes, a batch at a time. A blocked Bloom filter (three bits of one 64-bit
word per key, so one memory access per lookup; 16 bits per expected key, at most 64 MB) answers
"certainly new" for almost every key, and every key is appended to a log in file order. Nothing
is sorted or merged as batches arrive: a batch costs a few passes over its own keys.

Keys that repeat within a batch share a filter word, so only the few keys that share one are
compared. A key the filter is unsure of is *doubtful* (0.4% of keys at 10 million, 2% at 40
million, where the filter is at its cap): its row waits while the file goes on. `resolve`
decides every waiting key at once in one pass over the log, which finds each waiting key's
first position: a key repeats an earlier one exactly when it was logged somewhere before its
own position. The caller resolves at the end of the file, and sooner once enough keys wait
(`due`), so that a very long file holds few keys and rows at a time; each pass costs a read of
the log. The log keeps MEMORY_KEYS hashes (32 MB) in memory and appends the rest to a temporary
file. Memory is therefore about 130 MB at most (filter, log tail, waiting keys and the pass's
sieve) up to some 30 million keys; past the filter's cap the waiting keys may grow to one in
PENDING_SHARE of the log (16 bytes each: 100 MB at 400 million keys).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

MIN_WORD_BITS, MAX_WORD_BITS = 16, 23  # 512 KB to 64 MB
MEMORY_KEYS = 1 << 22  # logged hashes held in memory before they go to disk (32 MB)
CHUNK_KEYS = 1 << 20  # hashes read back from disk at a time by `resolve`
PENDING_KEYS = 1 << 19  # doubtful keys (and their rows) waiting before a `resolve` is due
PENDING_SHARE = 64  # ... or one logged key in this many, when more
MAX_SIEVE_BITS = 24  # `resolve`'s sieve: at most 16 MB
SIX = np.uint64(63)


def probe(hashes: np.ndarray, word_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Each hash's word (its top bits) and its three bits in that word (from its low bits).
    The words come as signed indices: numpy would convert unsigned ones on every use."""
    words = (hashes >> np.uint64(64 - word_bits)).view(np.intp)
    one = np.uint64(1)
    masks = (
        (one << (hashes & SIX))
        | (one << ((hashes >> np.uint64(6)) & SIX))
        | (one << ((hashes >> np.uint64(12)) & SIX))
    )
    return words, masks


def word_bits_for(keys: int) -> int:
    """Words for a filter of at least 16 bits a key, within the filter's bounds."""
    return min(max((keys // 4).bit_length(), MIN_WORD_BITS), MAX_WORD_BITS)


class SeenKeys:
    """Key hashes seen so far in one file. Use as a context manager: a log spilled to disk is
    deleted on leaving it."""

    def __init__(self, expected: int = 0) -> None:
        """`expected`: about how many keys the file holds (sizes the filter: 16 bits a key)."""
        self.word_bits = word_bits_for(expected)
        self.bloom = np.zeros(1 << self.word_bits, dtype=np.uint64)
        self.log: list[np.ndarray] = []  # the log's tail, in memory
        self.logged = 0  # keys in the log, on disk and in memory
        self.on_disk = 0
        self.folder: tempfile.TemporaryDirectory | None = None
        self.waiting: list[tuple[np.ndarray, np.ndarray]] = []  # doubtful keys, their positions
        self.pending = 0  # keys waiting for `resolve`

    def __enter__(self) -> SeenKeys:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Delete the log on disk."""
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None

    def add(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Log a batch's key hashes, in file order. Returns a mask of those certainly seen
        neither earlier in the batch nor before it, and the positions of the doubtful ones:
        first in the batch, perhaps seen before (decided by `resolve`, in the order given).
        Every other key repeats a key earlier in its batch."""
        hashes = hashes.astype(np.uint64, copy=False)
        words, masks = probe(hashes, self.word_bits)
        old = self.bloom[words]
        maybe = (old & masks) == masks
        crowded = self.sharing_a_word(words)  # uses the words' cache lines just read
        self.bloom[words] = old | masks  # where words repeat, one row's bits win: so
        np.bitwise_or.at(self.bloom, words[crowded], masks[crowded])  # set those rows' again
        first = np.ones(len(hashes), dtype=bool)
        if len(crowded):  # only keys sharing a word can be equal: check those alone
            first[crowded] = False
            first[crowded[np.unique(hashes[crowded], return_index=True)[1]]] = True
        doubtful = np.flatnonzero(maybe & first)
        kept = hashes if len(crowded) == 0 or first.all() else hashes[first]
        if len(doubtful):
            at = self.logged + np.cumsum(first)[doubtful] - 1
            self.waiting.append((hashes[doubtful], at))
            self.pending += len(doubtful)
        self.append(kept)
        return first & ~maybe, doubtful

    @property
    def due(self) -> bool:
        """Whether enough keys wait for a `resolve` now: PENDING_KEYS, or one logged key in
        PENDING_SHARE when that is more. A pass reads the whole log, so passes must grow apart
        as it grows: then all of a file's passes together read the log at most about
        PENDING_SHARE times over, even when the capped filter doubts most keys, where a fixed
        count would make them grow with the square of the file's length."""
        return self.pending >= max(PENDING_KEYS, self.logged // PENDING_SHARE)

    def sharing_a_word(self, words: np.ndarray) -> np.ndarray:
        """Positions (ascending) of the batch's keys whose filter word another key of the batch
        also has: each row writes its number into its word, and a row that reads back another's
        shares it, as does the row it reads. The words are overwritten: the caller restores them
        from what it read before."""
        rows = np.arange(len(words), dtype=np.uint64)
        self.bloom[words] = rows
        owner = self.bloom[words]
        lost = np.flatnonzero(owner != rows)
        crowd = np.zeros(len(words), dtype=bool)
        crowd[lost] = True
        crowd[owner[lost]] = True
        return np.flatnonzero(crowd)

    def append(self, hashes: np.ndarray) -> None:
        """Add keys to the end of the log; past MEMORY_KEYS in memory, the tail goes to disk."""
        self.log.append(hashes)
        self.logged += len(hashes)
        if self.logged - self.on_disk < MEMORY_KEYS:
            return
        if self.folder is None:
            self.folder = tempfile.TemporaryDirectory(prefix="citybrain-dedupe-")
        with open(self.path, "ab") as out:
            for part in self.log:
                part.tofile(out)
        self.on_disk, self.log = self.logged, []

    @property
    def path(self) -> Path:
        """The file holding the log's head."""
        return Path(self.folder.name) / "log.u64"

    def logged_keys(self, until: int) -> Iterator[tuple[int, np.ndarray]]:
        """The log's keys before position `until`, in order, a chunk at a time, each with the
        position of its first key."""
        start = 0
        while start < min(until, self.on_disk):
            count = min(CHUNK_KEYS, self.on_disk - start)
            yield start, np.fromfile(self.path, np.uint64, count, offset=start * 8)
            start += count
        for part in self.log:
            if start >= until:
                return
            yield start, part
            start += len(part)

    def resolve(self) -> np.ndarray:
        """For each doubtful key given since the last call, in order: whether it repeats a key
        earlier in the file. One pass over the log, which a table of the doubtful keys' top bits
        (16 entries a key up to a million keys, so that one key in 16 gets through) sieves
        before an exact search."""
        if not self.waiting:
            return np.zeros(0, dtype=bool)
        keys = np.concatenate([keys for keys, _ in self.waiting])
        at = np.concatenate([at for _, at in self.waiting])
        self.waiting, self.pending = [], 0
        distinct, which = np.unique(keys, return_inverse=True)
        first_at = np.full(len(distinct), np.iinfo(np.int64).max)
        shift = np.uint64(64 - min(len(distinct).bit_length() + 4, MAX_SIEVE_BITS))
        sieve = np.zeros(1 << (64 - int(shift)), dtype=bool)
        sieve[(distinct >> shift).view(np.intp)] = True
        for start, chunk in self.logged_keys(until=int(at.max())):
            near = np.flatnonzero(sieve[(chunk >> shift).view(np.intp)])
            found = np.searchsorted(distinct, chunk[near]).clip(max=len(distinct) - 1)
            equal = distinct[found] == chunk[near]
            np.minimum.at(first_at, found[equal], start + near[equal])
        return first_at[which] < at
