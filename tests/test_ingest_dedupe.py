"""Duplicate detection across the batches of one long file, checked against Python sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assets.ingest import dedupe
from assets.ingest.dedupe import SeenKeys


def first_seen_in(batch: np.ndarray, seen: set[int]) -> np.ndarray:
    """The answer by Python set semantics (and `seen` updated with the batch)."""
    want = np.zeros(len(batch), dtype=bool)
    for i, key in enumerate(batch.tolist()):
        if key not in seen:
            seen.add(key)
            want[i] = True
    return want


def test_first_seen_matches_exact_set_semantics_across_many_batches() -> None:
    rng = np.random.default_rng(7)
    seen, expected_seen = SeenKeys(expected=40 * 5_000), set[int]()
    universe = rng.integers(0, 2**64 - 1, 150_000, dtype=np.uint64)
    for _ in range(40):  # enough batches for the runs to be merged more than once
        batch = rng.choice(universe, 5_000)  # repeats within and across batches
        assert (seen.first_seen(batch) == first_seen_in(batch, expected_seen)).all()
    assert sum(len(r) for r in seen.runs) == len(expected_seen)
    assert len(seen.runs) < 40  # merged


def test_an_undersized_filter_is_slower_but_still_exact() -> None:
    rng = np.random.default_rng(8)
    seen = SeenKeys(expected=0)
    keys = rng.integers(0, 2**64 - 1, 200_000, dtype=np.uint64)
    assert seen.first_seen(keys[:100_000]).all()
    again = seen.first_seen(np.concatenate([keys[50_000:100_000], keys[100_000:]]))
    assert not again[:50_000].any() and again[50_000:].all()


def test_runs_spilled_to_disk_stay_exact_and_are_deleted(monkeypatch) -> None:
    monkeypatch.setattr(dedupe, "MEMORY_KEYS", 20_000)  # spill every few batches
    rng = np.random.default_rng(9)
    universe = rng.integers(0, 2**64 - 1, 120_000, dtype=np.uint64)
    expected_seen: set[int] = set()
    with SeenKeys(expected=0) as seen:  # an undersized filter: many lookups reach the disk
        for _ in range(30):
            batch = rng.choice(universe, 6_000)
            assert (seen.first_seen(batch) == first_seen_in(batch, expected_seen)).all()
        assert len(seen.disk) >= 3
        held = sum(len(r) for r in seen.runs) + sum(r.size for r in seen.disk)
        assert held == len(expected_seen)
        folder = Path(seen.folder.name)
        assert len(list(folder.iterdir())) == len(seen.disk)
    assert not folder.exists()
