"""The validation query's shortcut for plain text: the same rows, values and reasons as the
normalising path, for every kind of text that normalising changes."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from assets.ingest import validate
from assets.ingest.validate import Validator, is_plain, plain_fields
from tests.ingest_support import contract

FIELDS = ["meter_id", "flat_id", "read_at", "reading", "reset_flag", "quality_code"]
PLAIN_ROW = ["GM00000001", "F00000001", "2026-11-16 06:00:00", "12.5", "false", "measured"]


@pytest.mark.parametrize(
    ("values", "plain"),
    [
        (["a", "b c", None], True),
        ([None, None], True),
        ([], True),
        (["a", ""], False),
        (["a", " b"], False),
        (["a", "b "], False),
        (["a", "ｂ"], False),
        (["a", "b\u200b"], False),
        (["a", "é"], False),
    ],
)
def test_a_chunk_is_plain_only_when_no_value_would_change(values, plain) -> None:
    for kind in (pa.string(), pa.large_string()):
        assert is_plain(pa.array(values, kind)) is plain


def test_a_sliced_chunk_is_judged_by_its_own_values_only() -> None:
    values = pa.array([" before", "a", None, "b", "after "])
    assert is_plain(values.slice(1, 3))
    assert not is_plain(values.slice(0, 2))
    assert not is_plain(values.slice(3, 2))


def test_plain_fields_are_text_fields_plain_in_every_chunk() -> None:
    batch = pa.table(
        {
            "plain": pa.chunked_array([["a"], ["b"]]),
            "spaced": pa.chunked_array([["a"], ["b "]]),
            "number": pa.array([1, 2]),
        }
    )
    assert plain_fields(batch) == {0}


def test_the_shortcut_gives_what_normalising_gives(monkeypatch) -> None:
    """Plain values of every kind, valid or not, validated with the shortcut and without: row for
    row the same values, reasons, keys and dates."""
    columns = {
        "meter_id": ["GM00000001", "GM1", None, "GM00000002", "gm00000003", "GM00000004"],
        "flat_id": ["F00000001", "F00000001", "F1", None, "F00000003", "F x"],
        "read_at": [
            "2026-11-16 06:00:00",
            "2026/11/16 06:00",
            "2026-11-15T22:00:00Z",
            "16/11/2026 06:00",
            "1970-01-01 00:00:00",
            "never",
        ],
        "reading": ["12.5", "n/a", "1e3", "-1", "inf", None],
        "reset_flag": ["false", "TRUE", "yes", None, "0", "1"],
        "quality_code": ["measured", "estimated", "guessed", None, "Measured", "m e"],
    }
    validator = Validator(contract("meter_readings_gas"))
    source = pa.table(columns)
    lines = pa.array(range(2, 8), pa.int64())
    assert plain_fields(source) == set(range(len(columns)))
    with_shortcut = validator.run(source, lines)
    monkeypatch.setattr(validate, "plain_fields", lambda table: frozenset())
    without = validator.run(source, lines)
    assert len(validator.queries) == 2
    assert with_shortcut.equals(without)
    assert with_shortcut.column("_reason").null_count == 1  # only the first row is valid


def test_the_shortcut_is_taken_for_a_plain_batch() -> None:
    validator = Validator(contract("meter_readings_gas"))
    source = pa.table({f: [v] for f, v in zip(FIELDS, PLAIN_ROW, strict=True)})
    validator.run(source, pa.array([2], pa.int64()))
    ((query, unchanged),) = validator.queries.values()
    assert "strlen(__f0) <> length(__f0)" not in query
    assert "__f0 AS __r0" in query
    # Text returned as delivered comes from the batch, not out of DuckDB.
    assert unchanged == {"meter_id": 0, "flat_id": 1, "quality_code": 5}
    assert '"meter_id"' not in query and '__v3 AS "reading"' in query


def test_is_plain_agrees_with_the_rule_on_random_slices() -> None:
    """Random values from a small alphabet of the characters that matter, sliced anywhere."""
    pick = random.Random(7)
    alphabet = ["a", "1", " ", "é", "１", "\u200b", "\t", "-"]
    for _ in range(300):
        values = [
            None if pick.random() < 0.1 else "".join(pick.choices(alphabet, k=pick.randint(0, 3)))
            for _ in range(pick.randint(1, 8))
        ]
        start = pick.randint(0, len(values) - 1)
        length = pick.randint(0, len(values) - start)
        chunk = pa.array(values, pick.choice([pa.string(), pa.large_string()])).slice(start, length)
        expected = all(
            v is None or (v.isascii() and v != "" and v[0] != " " and v[-1] != " ")
            for v in values[start : start + length]
        )
        assert is_plain(chunk) is expected, values[start : start + length]
