"""Quarantine rows of a long, dirty file go through a spool on disk, and none is lost."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from assets.ingest import readers, spool
from assets.ingest.spool import Spool
from tests.ingest_support import contract, deliver, ingest, table

GAS = "gas_company/meter_readings/gas_readings_20261116.csv"
GAS_HEADER = "meter_id,flat_id,read_at,reading,reset_flag,quality_code\n"
SCHEMA = pa.schema([("n", pa.int64()), ("text", pa.string())])


def rows(start: int, count: int) -> pa.Table:
    numbers = list(range(start, start + count))
    return pa.table({"n": numbers, "text": [f"row {n:04d}" for n in numbers]}, schema=SCHEMA)


def test_the_spool_returns_every_row_in_order_and_deletes_its_file() -> None:
    with Spool(SCHEMA, limit=2 * rows(0, 50).nbytes + 1) as spooled:  # spills every third
        for start in range(0, 500, 50):
            spooled.append(rows(start, 50))
        spooled.append(rows(500, 0))
        folder = Path(spooled.folder.name)
        assert (folder / "rows.arrows").stat().st_size > 0  # spilled
        assert spooled.held  # the rows since the last spill are still in memory
        back = pa.Table.from_batches(list(spooled.batches()), SCHEMA)
        assert back.column("n").to_pylist() == list(range(500))
        assert spooled.rows == 500
    assert not folder.exists()


def test_the_spool_gives_its_rows_back_as_few_tables_of_one_chunk_each() -> None:
    with Spool(limit=3 * rows(0, 50).nbytes + 1) as spooled:  # the schema from the first rows
        for start in range(0, 500, 50):
            spooled.append(rows(start, 50))
        tables = list(spooled.tables(120))
    assert [t.num_rows for t in tables] == [150, 150, 150, 50]
    assert all(t.column("n").num_chunks == 1 for t in tables)
    assert pa.concat_tables(tables).column("n").to_pylist() == list(range(500))


def test_the_spool_can_start_over() -> None:
    with Spool(SCHEMA, limit=100) as spooled:
        spooled.append(rows(0, 40))
        spooled.discard()
        spooled.append(rows(100, 3))
        assert [b.num_rows for b in spooled.batches()] == [3]


def test_a_spool_holds_one_schema_until_it_starts_over() -> None:
    other = pa.table({"n": ["one"]})
    with Spool() as spooled:
        spooled.append(rows(0, 2))
        with pytest.raises(ValueError, match="rows of another schema"):
            spooled.append(other)
        spooled.discard()  # its schema came from its first rows: the next rows set it again
        spooled.append(other)
        assert spooled.schema == other.schema


def test_a_mostly_bad_file_is_quarantined_row_by_row_through_the_spool(lake, monkeypatch) -> None:
    spills = []
    monkeypatch.setattr(spool, "SPOOL_BYTES", 8_000)
    monkeypatch.setattr(Spool, "spill", lambda self, f=Spool.spill: spills.append(1) or f(self))
    monkeypatch.setattr(readers, "CSV_BLOCK", 16 << 10)  # many batches
    monkeypatch.setattr(readers, "BATCH_ROWS", 500)
    lines = [
        f"GM{m:08d},F{m:08d},2026-11-16 06:00:00,{'n/a' if m % 3 else '12.5'},false,measured\n"
        for m in range(3000)
    ]
    repeat = "GM00000000,F00000000,2026-11-16 06:00:00,13.0,false,measured\n"  # key of line 2
    deliver(lake, GAS, GAS_HEADER + "".join(lines) + repeat)

    [result] = ingest(lake, contract("meter_readings_gas"))

    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (3001, 1000, 2001)
    assert len(spills) >= 2
    q = table(lake, "quarantine", "meter_readings_gas").sort_by("source_line")
    bad_lines = [m + 2 for m in range(3000) if m % 3] + [3002]
    assert q.column("source_line").to_pylist() == bad_lines
    reasons = q.column("reason").to_pylist()
    assert set(reasons[:-1]) == {'reading: "n/a" is not a valid double'}
    assert reasons[-1] == "duplicate row (same key earlier in the file)"
    first, last = (json.loads(t) for t in q.column("raw").to_pylist()[:: len(bad_lines) - 1])
    assert first == {
        "meter_id": "GM00000001",
        "flat_id": "F00000001",
        "read_at": "2026-11-16 06:00:00",
        "reading": "n/a",
        "reset_flag": "false",
        "quality_code": "measured",
    }
    assert (last["meter_id"], last["reading"]) == ("GM00000000", "13.0")
