"""Every kind of expectation, run by Great Expectations inside DuckDB: violating rows make it fail
with a specific message and sample, conforming rows make it pass."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from assets.registry import CONTRACTS_DIR
from quality.domain import view_name
from quality.engine import DuckDBChecks, Outcome
from quality.history import history_rows, mask
from quality.rules import ColumnSpec, TableSpec, table_rules

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
SPEC = TableSpec(
    "orders",
    (
        ColumnSpec("order_id", "VARCHAR", required=True),
        ColumnSpec("status", "VARCHAR", valid_values=("open", "closed")),
        ColumnSpec("rating", "BIGINT", minimum=1, maximum=5),
        ColumnSpec("contact_phone", "VARCHAR", tier="L3"),
        ColumnSpec("plate", "VARCHAR", tier="L3"),
        ColumnSpec("owner_id_number", "VARCHAR", tier="L4"),
        ColumnSpec("requested_datetime", "TIMESTAMP"),
        ColumnSpec("dispatched_at", "TIMESTAMP"),
        ColumnSpec("lat", "DOUBLE"),
        ColumnSpec("long", "DOUBLE"),
        ColumnSpec("street_code", "VARCHAR", tier="L1"),
        ColumnSpec("meter_id", "VARCHAR"),
        ColumnSpec("reading", "DOUBLE"),
        ColumnSpec("reset_flag", "BOOLEAN"),
    ),
    event_time="requested_datetime",
    primary_key=("order_id",),
    key_is_unique=True,
)
GOOD = {
    "order_id": ["A1", "A2", "A3", "A4"],
    "status": ["open", "closed", "open", "closed"],
    "rating": [1, 5, 3, None],
    "contact_phone": ["13812345678", "15900001111", None, "18600002222"],
    # an ordinary plate, both kinds of new-energy plate, none
    "plate": ["沪A12345", "沪AD12345", "沪B12345F", None],
    "owner_id_number": ["11010519491231002X", "310115199001010010", None, None],
    "requested_datetime": [NOW - 4 * HOUR, NOW - 3 * HOUR, NOW - 2 * HOUR, NOW - HOUR],
    "dispatched_at": [NOW - 3 * HOUR, NOW - 3 * HOUR, None, NOW],
    "lat": [31.22, 31.238, None, 31.2],
    "long": [121.53, 121.505, None, 121.6],
    "street_code": ["ST01", "ST02", None, "ST36"],
    "meter_id": ["M1", "M1", "M1", "M2"],
    "reading": [1.0, 2.0, 0.5, 9.0],
    "reset_flag": [False, False, True, False],  # the fall at A3 is a flagged reset
}
# Each rule's violation, on one row (index) of an otherwise good table, and what it must report.
VIOLATIONS = {
    "order_id_not_null": ("order_id", 1, None, None),
    "status_in_set": ("status", 1, "bogus", "bogus"),
    "rating_in_range": ("rating", 1, 9, 9),
    "primary_key_unique": ("order_id", 1, "A1", "A1"),
    "contact_phone_is_mobile_number": ("contact_phone", 1, "1234567", {"contact_phone": "123**67"}),
    "plate_format": ("plate", 1, "沪I12345", {"plate": "沪I1**45"}),
    "owner_id_number_check_digit": (
        "owner_id_number",
        1,
        "310115199001010011",
        {"owner_id_number": "<18 characters hidden>"},
    ),
    "event_time_not_in_future": ("requested_datetime", 2, NOW + 2 * HOUR, None),
    "dispatched_at_not_before_requested_datetime": ("dispatched_at", 0, NOW - 5 * HOUR, None),
    "coordinates_inside_pudong": ("lat", 1, 39.9, {"lon": 121.505, "lat": 39.9}),
    "meter_reading_monotone": ("reading", 1, 0.7, None),
    "street_code_resolves": ("street_code", 1, "ST99", {"street_code": "ST99"}),
}


def reference(name: str) -> pa.Table:
    """A reference table as ingested: the CSV under contracts/reference."""
    return pacsv.read_csv(CONTRACTS_DIR / "reference" / f"{name}.csv")


def validate(rows: dict) -> dict[str, Outcome]:
    """All rules over `rows`, by rule name."""
    checks = DuckDBChecks()
    try:
        checks.register("rows", pa.table(rows))
        checks.register(view_name("reference/streets"), reference("streets"))
        checks.register(view_name("reference/grid_cells"), reference("grid_cells"))
        outcomes = checks.validate(SPEC, table_rules(SPEC), "SELECT * FROM rows")
    finally:
        checks.close()
    return {o.rule.name: o for o in outcomes}


@pytest.fixture(scope="module")
def violated() -> dict[str, Outcome]:
    """Every rule run over a table in which each rule is broken once."""
    rows = {k: list(v) for k, v in GOOD.items()}
    for column, index, value, _ in VIOLATIONS.values():
        if column == "order_id" and value is None:
            rows[column][2] = None  # the key's own null goes on another row than its duplicate
            continue
        rows[column][index] = value
    return validate(rows)


def test_every_rule_kind_is_covered_here() -> None:
    assert {r.name for r in table_rules(SPEC)} == set(VIOLATIONS)
    kinds = {r.kind for r in table_rules(SPEC)}
    assert kinds == {"not_null", "in_set", "between", "unique", "pair_order", "unexpected_rows"}


def test_conforming_rows_pass_every_rule() -> None:
    outcomes = validate(GOOD)
    failed = {n: o.message for n, o in outcomes.items() if not o.passed}
    assert failed == {}
    assert all(o.error is None for o in outcomes.values())


@pytest.mark.parametrize("rule", sorted(VIOLATIONS))
def test_each_rule_fails_on_its_violation_with_a_specific_message(violated, rule) -> None:
    found = violated[rule]
    assert found.error is None, found.error
    assert not found.passed
    expected = 2 if rule == "primary_key_unique" else 1
    assert found.unexpected_count == expected, found.message
    assert f"{expected} unexpected row(s)" in found.message and rule in found.message
    assert found.rule.description in found.message


@pytest.mark.parametrize(
    "rule", [r for r, (*_, sample) in VIOLATIONS.items() if sample is not None]
)
def test_samples_show_the_offending_values_masked_by_tier(violated, rule) -> None:
    *_, sample = VIOLATIONS[rule]
    rows = history_rows([violated[rule]], SPEC, "2026-11-16", "run-1").to_pylist()
    assert rows[0]["passed"] is False and rows[0]["check"] == rule
    assert rows[0]["unexpected_count"] >= 1

    assert sample in json.loads(rows[0]["unexpected_sample"])


def test_a_rule_that_cannot_run_reports_why_and_spares_the_others() -> None:
    checks = DuckDBChecks()
    try:
        checks.register("rows", pa.table(GOOD))  # no reference views registered
        outcomes = {
            o.rule.name: o for o in checks.validate(SPEC, table_rules(SPEC), "SELECT * FROM rows")
        }
    finally:
        checks.close()
    assert "reference_streets" in (outcomes["street_code_resolves"].error or "")
    assert not outcomes["street_code_resolves"].passed
    assert outcomes["plate_format"].passed and outcomes["plate_format"].error is None


def test_masking_by_tier() -> None:
    assert mask("13812345678", "L2") == "13812345678"
    assert mask("13812345678", "L3") == "138******78"
    assert mask("11010519491231002X", "L4") == "<18 characters hidden>"
