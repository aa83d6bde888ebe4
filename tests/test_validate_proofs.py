"""Checks a batch's buffers prove every row passes (`Validator.proven`) are left out of its query:
granted only where they hold, and the rows, reasons and keys the same as with every check."""

from __future__ import annotations

import pyarrow as pa
import pytest

from assets.ingest.validate import Shortcuts, Validator
from tests.ingest_support import contract

FIELDS = ["meter_id", "flat_id", "read_at", "reading", "reset_flag", "quality_code"]
ROWS = 40


def batch(**changes: tuple[int, str | None]) -> pa.Table:
    """ROWS plain gas readings, with the value at a row of a field changed."""
    columns = {
        "meter_id": [f"GM{n:08d}" for n in range(ROWS)],
        "flat_id": [f"F{n:08d}" for n in range(ROWS)],
        "read_at": [f"2026-11-{1 + n % 15:02d} {n % 24:02d}:00:00" for n in range(ROWS)],
        "reading": [f"{n * 1.5}" for n in range(ROWS)],
        "reset_flag": ["false"] * ROWS,
        "quality_code": ["measured", "estimated"] * (ROWS // 2),
    }
    for field, (row, value) in changes.items():
        columns[field][row] = value
    return pa.table({f: pa.array(columns[f], pa.string()) for f in FIELDS})


EVERY_CHECK = {
    ("meter_id", "required"),
    ("meter_id", "length"),
    ("meter_id", "pattern"),
    ("flat_id", "required"),
    ("flat_id", "length"),
    ("flat_id", "pattern"),
    ("reading", "required"),
    ("reset_flag", "required"),
    ("quality_code", "required"),
    ("quality_code", "length"),
    ("quality_code", "allowed"),
    *{("read_at", check) for check in ("required", "type", "years", "earliest", "future")},
}

CASES = {
    "clean": ({}, set()),
    "a meter missing": (
        {"meter_id": (3, None)},
        {("meter_id", "required"), ("meter_id", "length"), ("meter_id", "pattern")},
    ),
    "a flat off its pattern": ({"flat_id": (5, "F123")}, {("flat_id", "pattern")}),
    "a code not allowed": ({"quality_code": (7, "guessed")}, {("quality_code", "allowed")}),
    "a code missing": (  # a column with a NULL proves nothing
        {"quality_code": (8, None)},
        {("quality_code", "required"), ("quality_code", "length"), ("quality_code", "allowed")},
    ),
    "a code too long": (
        {"quality_code": (9, "m" * 65_537)},
        {("quality_code", "length"), ("quality_code", "allowed")},
    ),
    "a reading before 2000": ({"read_at": (11, "1999-12-31 23:00:00")}, {("read_at", "earliest")}),
    "a reading in the future": ({"read_at": (12, "2999-01-01 00:00:00")}, {("read_at", "future")}),
    "a reading not a number": ({"reading": (13, "n/a")}, set()),
}


@pytest.mark.parametrize("case", CASES)
def test_a_check_is_proven_only_where_every_row_passes_it(case: str) -> None:
    changes, broken = CASES[case]
    validator = Validator(contract("meter_readings_gas"))
    source = batch(**changes)
    found = validator.shortcuts(source)
    assert found.proven == EVERY_CHECK - broken
    lines = pa.array(range(2, 2 + ROWS), pa.int64())
    with_proofs = validator.run(source, lines, (), found)
    every_check = validator.run(source, lines, (), Shortcuts(found.plain, frozenset(), found.times))
    assert with_proofs.equals(every_check)
    reasons = with_proofs.column("_reason").to_pylist()
    assert sum(r is not None for r in reasons) == (case != "clean") - (case == "a code missing")
    queries = [sql for sql, _ in validator.queries.values()]
    assert len(queries) == 2 and len(queries[0]) < len(queries[1])
