"""Duplicate detection across the batches of one long file, checked against Python sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assets.ingest import dedupe, readers
from assets.ingest import ingest as ingest_module
from assets.ingest.dedupe import SeenKeys
from tests.ingest_support import contract, deliver, ingest, table

GAS = "gas_company/meter_readings/gas_readings_20261116.csv"
GAS_HEADER = "meter_id,flat_id,read_at,reading,reset_flag,quality_code\n"
DUPLICATE = "duplicate row (same key earlier in the file)"


def first_in_file(batches: list[np.ndarray]) -> np.ndarray:
    """The answer by Python set semantics: whether each key is the first of its value."""
    seen: set[int] = set()
    want = []
    for key in np.concatenate(batches).tolist():
        want.append(key not in seen)
        seen.add(key)
    return np.array(want)


def decided(seen: SeenKeys, batches: list[np.ndarray], resolve_at: int | None = None) -> np.ndarray:
    """Whether each key is first in the file, by `add` and `resolve` (at the end, and whenever
    `resolve_at` keys wait)."""
    verdicts, waiting = [], []  # waiting: (batch number, position) of each doubtful key

    def settle() -> None:
        for (batch, at), again in zip(waiting, seen.resolve(), strict=True):
            verdicts[batch][at] = not again
        waiting.clear()

    for number, batch in enumerate(batches):
        fresh, doubtful = seen.add(batch)
        verdicts.append(fresh.copy())
        waiting += [(number, at) for at in doubtful]
        if resolve_at is not None and len(waiting) >= resolve_at:
            settle()
    settle()
    return np.concatenate(verdicts)


def test_keys_are_decided_as_by_python_sets_across_many_batches() -> None:
    rng = np.random.default_rng(7)
    universe = rng.integers(0, 2**64 - 1, 150_000, dtype=np.uint64)
    batches = [rng.choice(universe, 5_000) for _ in range(40)]  # repeats within and across
    with SeenKeys(expected=40 * 5_000) as seen:
        got = decided(seen, batches)
    assert (got == first_in_file(batches)).all()
    assert seen.logged == sum(len(np.unique(b)) for b in batches)  # repeats in a batch: not logged


def test_only_keys_the_filter_is_unsure_of_wait_and_repeats_in_a_batch_are_found_at_once() -> None:
    rng = np.random.default_rng(1)
    keys = rng.integers(0, 2**64 - 1, 20_000, dtype=np.uint64)
    with SeenKeys(expected=20_000) as seen:
        fresh, doubtful = seen.add(np.concatenate([keys[:10_000], keys[:10]]))
        assert fresh[:10_000].all() and not fresh[10_000:].any()  # repeats in the batch
        assert len(doubtful) == 0  # nothing was seen before the first batch
        fresh, doubtful = seen.add(np.concatenate([keys[:100], keys[10_000:]]))
        assert set(range(100)) <= set(doubtful.tolist())  # every earlier key waits
        assert len(doubtful) < 100 + 10_000 * 0.01  # and few new ones (the filter's misses)
        assert not fresh[:100].any()
        assert seen.resolve().tolist() == [True] * 100 + [False] * (len(doubtful) - 100)


def test_keys_sharing_a_filter_word_in_one_batch_all_keep_their_bits() -> None:
    # 2,000 keys in 16 words (the top 16 bits equal in groups): every key shares its word, so
    # only the second write of its bits keeps them. Left out, a later batch repeating these keys
    # would find some "certainly new".
    rng = np.random.default_rng(3)
    low = rng.integers(0, 2**48, 2_000, dtype=np.uint64)
    keys = (np.arange(2_000, dtype=np.uint64) % np.uint64(16)) << np.uint64(48) | low
    with SeenKeys(expected=0) as seen:
        fresh, doubtful = seen.add(np.concatenate([keys, keys[::7]]))
        assert fresh[:2_000].all() and not fresh[2_000:].any()
        fresh, doubtful = seen.add(keys)
        assert not fresh.any() and doubtful.tolist() == list(range(2_000))
        assert seen.resolve().all()


def test_a_log_spilled_to_disk_and_resolved_often_stays_exact_and_is_deleted(monkeypatch) -> None:
    monkeypatch.setattr(dedupe, "MEMORY_KEYS", 20_000)  # to disk every few batches
    monkeypatch.setattr(dedupe, "CHUNK_KEYS", 7_000)  # read back in pieces
    monkeypatch.setattr(dedupe, "MAX_WORD_BITS", 8)  # a tiny filter: most keys doubtful
    rng = np.random.default_rng(9)
    universe = rng.integers(0, 2**64 - 1, 120_000, dtype=np.uint64)
    batches = [rng.choice(universe, 6_000) for _ in range(30)]
    resolves = []
    with SeenKeys(expected=180_000) as seen:
        resolve = seen.resolve
        monkeypatch.setattr(seen, "resolve", lambda: resolves.append(seen.pending) or resolve())
        got = decided(seen, batches, resolve_at=10_000)
        assert seen.on_disk >= 160_000
        log = seen.path
        assert log.stat().st_size == seen.on_disk * 8
    assert (got == first_in_file(batches)).all()
    assert len(resolves) >= 10 and min(resolves[:-1]) > 5_000  # most keys were doubtful
    assert not log.parent.exists()


def test_passes_grow_apart_as_the_log_grows_so_a_file_is_read_a_bounded_number_of_times(
    monkeypatch,
) -> None:
    """Found in review: with a fixed count of waiting keys, a file long enough for its filter to
    doubt most keys made a pass every few batches over an ever longer log."""
    monkeypatch.setattr(dedupe, "MAX_WORD_BITS", 4)  # every key doubtful
    monkeypatch.setattr(dedupe, "PENDING_KEYS", 500)
    rng = np.random.default_rng(4)
    batches = [rng.integers(0, 2**64 - 1, 200, dtype=np.uint64) for _ in range(1_000)]
    read = []
    with SeenKeys(expected=0) as seen:
        logged_keys = seen.logged_keys
        monkeypatch.setattr(
            seen,
            "logged_keys",
            lambda until: (read.append(min(until, seen.logged)), logged_keys(until))[1],
        )
        for batch in batches:
            seen.add(batch)
            if seen.due:
                seen.resolve()
        seen.resolve()
    assert len(read) > 20  # passes were due mid-file
    assert sum(read) < 100 * seen.logged  # about 70; a pass per 500 doubtful keys: 167


def test_a_long_file_loads_each_key_once_where_it_first_appears(lake, monkeypatch) -> None:
    monkeypatch.setattr(ingest_module, "SMALL_FILE", 0)  # streamed batch by batch
    monkeypatch.setattr(readers, "CSV_BLOCK", 4 << 10)
    monkeypatch.setattr(readers, "BATCH_ROWS", 200)
    monkeypatch.setattr(dedupe, "MAX_WORD_BITS", 6)  # most keys doubtful: held, then released
    monkeypatch.setattr(dedupe, "PENDING_KEYS", 300)  # released mid-file as well
    releases = []
    release = ingest_module.SystemIngest.release
    monkeypatch.setattr(
        ingest_module.SystemIngest,
        "release",
        lambda self, seen, *a: releases.append(seen.pending) or release(self, seen, *a),
    )
    rng = np.random.default_rng(5)
    meters = rng.integers(0, 1_500, 2_000)  # 2,000 rows of about 1,100 distinct keys
    lines = [
        f"GM{m:08d},F{m:08d},2026-11-16 06:00:00,{n}.5,false,measured\n"
        for n, m in enumerate(meters)
    ]
    deliver(lake, GAS, GAS_HEADER + "".join(lines))

    [result] = ingest(lake, contract("meter_readings_gas"))

    first = {}
    for n, m in enumerate(meters.tolist()):
        first.setdefault(m, n)
    kept = sorted(first.values())
    assert (result.rows_read, result.rows_loaded) == (2_000, len(kept))
    assert result.rows_quarantined == 2_000 - len(kept)
    assert len(releases) >= 3 and max(releases) >= 300  # mid-file, and at the end
    bronze = table(lake, "bronze", "meter_readings_gas").sort_by("_source_line")
    assert bronze.column("_source_line").to_pylist() == [n + 2 for n in kept]
    assert bronze.column("reading").to_pylist() == [n + 0.5 for n in kept]
    quarantine = table(lake, "quarantine", "meter_readings_gas").sort_by("source_line")
    repeats = sorted(set(range(2_000)) - set(kept))
    assert quarantine.column("source_line").to_pylist() == [n + 2 for n in repeats]
    assert set(quarantine.column("reason").to_pylist()) == {DUPLICATE}
    texts = [json.loads(t) for t in quarantine.column("raw").to_pylist()]
    assert [t["reading"] for t in texts] == [f"{n}.5" for n in repeats]
    assert [t["meter_id"] for t in texts] == [f"GM{meters[n]:08d}" for n in repeats]


@pytest.fixture(autouse=True)
def _no_stray_logs() -> None:
    """Every test here leaves no temporary log behind."""
    before = set(Path(dedupe.tempfile.gettempdir()).glob("citybrain-dedupe-*"))
    yield
    assert set(Path(dedupe.tempfile.gettempdir()).glob("citybrain-dedupe-*")) <= before
