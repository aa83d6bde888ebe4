"""Times written `YYYY-MM-DD HH:MM:SS`, read from the bytes: the same instants as DuckDB's
parsing, and the same validated rows whichever reads them."""

from __future__ import annotations

import random
import re

import duckdb
import pyarrow as pa

from assets.ingest import validate
from assets.ingest.arrow_times import layout_times
from assets.ingest.validate import Shortcuts, Validator
from tests.ingest_support import contract

FIELDS = ["meter_id", "flat_id", "read_at", "reading", "reset_flag", "quality_code"]
PLAIN_ROW = ["GM00000001", "F00000001", "2026-11-16 06:00:00", "12.5", "false", "measured"]
LAYOUT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def near_time(pick: random.Random) -> str:
    """A value of the layout, often with a field out of range, a leap day or a wrong byte."""
    year = pick.choice([pick.randint(0, 9999), pick.randint(1999, 2030), 1900, 2000, 2100, 1])
    month = pick.choice([pick.randint(0, 13), 2, 12])
    day = pick.choice([pick.randint(0, 32), 28, 29, 30, 31])
    hour, minute, second = pick.randint(0, 25), pick.randint(0, 61), pick.randint(0, 61)
    text = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"
    if pick.random() < 0.1:
        at = pick.randrange(len(text))
        text = text[:at] + pick.choice("0/T:-x ") + text[at + 1 :]
    return text


def test_each_time_is_the_instant_duckdb_reads_or_the_column_is_left_to_duckdb() -> None:
    pick = random.Random(5)
    values = [near_time(pick) for _ in range(6_000)]
    with duckdb.connect() as db:
        read = db.execute(
            "SELECT list(epoch_us(try_strptime(v, $1))) FROM unnest($2::VARCHAR[]) t(v)",
            [validate.COMMON_FORMAT, values],
        ).fetchone()[0]
    parsed = 0
    for value, want in zip(values, read, strict=True):
        got = layout_times(pa.chunked_array([pa.array([value])]))
        if got is not None:
            assert got.cast(pa.int64()).to_pylist() == [want], value
            parsed += 1
        elif LAYOUT.fullmatch(value):  # refused though laid out: DuckDB does not read it
            assert want is None or value.startswith("0000"), value  # or it is in year 0
    assert 0.3 < parsed / len(values) < 0.9  # both answers, often


def test_a_column_is_parsed_whole_or_not_at_all() -> None:
    good = ["2024-02-29 23:59:59", "1970-01-01 00:00:00", "0001-01-01 00:00:00"]
    column = pa.chunked_array([pa.array(good[:2]), pa.array([], pa.string()), pa.array(good[2:])])
    micros = layout_times(column).cast(pa.int64()).to_pylist()
    assert micros == [1_709_251_199_000_000, 0, -62_135_596_800_000_000]
    for bad in ["2023-02-29 00:00:00", "2026-11-16 24:00:00", "2026-11-16T06:00:00", None, ""]:
        assert layout_times(pa.chunked_array([pa.array([*good, bad])])) is None, bad


def test_a_batch_given_its_times_parsed_validates_as_one_parsed_by_duckdb() -> None:
    """Valid times, and times before 2000, in the future, on leap days and at the ends of the
    day: row for row the same values, local dates, reasons and keys either way."""
    times = [
        "2026-11-16 06:00:00",
        "2024-02-29 23:59:59",
        "2000-01-01 07:59:59",  # 1999 in UTC: before 2000
        "2000-01-01 08:00:00",
        "2999-01-01 00:00:00",  # in the future
        "0001-01-01 00:00:00",  # before the first time DuckDB keeps, in UTC
        "1970-01-01 00:00:00",
        "2026-11-16 00:00:00",  # the day before, in UTC: the local date counts
        "1969-07-20 20:17:40",  # before 1970: whole days are counted down, not towards 0
    ]
    columns = {f: [v] * len(times) for f, v in zip(FIELDS, PLAIN_ROW, strict=True)}
    columns["read_at"] = times
    columns["meter_id"] = [f"GM{n:08d}" for n in range(len(times))]
    source = pa.table(columns)
    lines = pa.array(range(2, 2 + len(times)), pa.int64())
    validator = Validator(contract("meter_readings_gas"))
    found = validator.shortcuts(source)
    assert list(found.times) == ["read_at"]
    parsed = validator.run(source, lines, (), found)
    texts_proven = frozenset(p for p in found.proven if p[0] != "read_at")  # not the times'
    by_duckdb = validator.run(source, lines, (), Shortcuts(found.plain, texts_proven, {}))
    assert parsed.equals(by_duckdb)
    assert parsed.column("_reason").null_count == 4  # 2026 twice, 2024, 2000 at 08:00
    dates = [d.isoformat() for d in parsed.column("_event_date").to_pylist()[-2:]]
    assert dates == ["2026-11-16", "1969-07-20"]
    queries = [sql for sql, _ in validator.queries.values()]
    assert ["strptime" in sql for sql in queries] == [False, True]


def test_times_are_left_to_duckdb_where_the_zone_changes_its_offset(monkeypatch) -> None:
    monkeypatch.setattr(validate, "fixed_offset", lambda zone: None)  # daylight saving
    validator = Validator(contract("meter_readings_gas"))
    source = pa.table({f: [v] for f, v in zip(FIELDS, PLAIN_ROW, strict=True)})
    assert validator.shortcuts(source).times == {}
