"""The validation query's shortcuts, for plain text and for fixed-width patterns: the same rows,
values and reasons as the full query, for every kind of text they skip work for."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest

from assets.ingest import validate
from assets.ingest.arrow_text import fixed_pattern, is_plain
from assets.ingest.validate import Validator, plain_fields
from assets.registry import load_contracts
from tests.ingest_support import column, contract, edited_contract

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
        (["a", "b\t"], False),
        (["\na", "b"], False),
        (["a\r", "b"], False),
        (["a\tb", "c d"], True),
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


def test_each_batch_is_validated_from_its_own_rows_by_the_query_made_once() -> None:
    """Batches of one variant share one bound query; each run reads the batch given to it."""
    validator = Validator(contract("meter_readings_gas"))
    readings = [["12.5", "13.5"], ["7.25", "-1"], ["1e3", "n/a"]]
    for n, (first, second) in enumerate(readings):
        row = dict(zip(FIELDS, PLAIN_ROW, strict=True))
        source = pa.table({f: [v, v] for f, v in row.items()}).set_column(
            3, "reading", pa.array([first, second])
        )
        checked = validator.run(source, pa.array([2 + n, 3 + n], pa.int64()))
        assert checked.column("_line").to_pylist() == [2 + n, 3 + n]
        assert checked.column("reading").to_pylist()[:1] == [float(first)]
    assert checked.column("_reason").to_pylist()[1] is not None  # "n/a": not a number
    assert len(validator.relations) == len(validator.queries) == 1


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
    alphabet = ["a", "1", " ", "é", "１", "\u200b", "\t", "\n", "-"]
    for _ in range(300):
        values = [
            None if pick.random() < 0.1 else "".join(pick.choices(alphabet, k=pick.randint(0, 3)))
            for _ in range(pick.randint(1, 8))
        ]
        start = pick.randint(0, len(values) - 1)
        length = pick.randint(0, len(values) - start)
        chunk = pa.array(values, pick.choice([pa.string(), pa.large_string()])).slice(start, length)
        expected = all(
            v is None or (v.isascii() and v != "" and v[0] > " " and v[-1] > " ")
            for v in values[start : start + length]
        )
        assert is_plain(chunk) is expected, values[start : start + length]


def contract_patterns() -> set[str]:
    """Every pattern the contracts give a column."""
    return {
        pattern
        for loaded in load_contracts()
        for col in loaded.columns
        if (pattern := col.logicalTypeOptions.pattern)
    }


@pytest.mark.parametrize(
    ("pattern", "width"),
    [
        (r"^GM\d{8}$", 10),
        (r"^a{0}b{1000}$", 1000),
        (r"^GM\d{08}$", None),  # RE2 reads `{08}` as text
        (r"^a{1001}$", None),  # RE2 refuses counts over 1000
        (r"^\d{17}[\dX]$", 18),
        (r"^ST\d{2}$", 4),
        (r"^110\d{14}$", 17),
        (r"^[A-Z][A-Z0-9-]{3}$", 4),
        (r"^a\.b$", 3),
        (r"^L\d{1,2}$", None),  # two widths
        (r"^[\u4e00-\u9fa5][A-Z]$", None),  # not ASCII
        (r"^LINESTRING ?\(", None),  # not anchored at the end, optional space
        (r"GM\d{8}$", None),
        (r"^GM\d{8}\$", None),
        (r"^(?i)gm\d{8}$", None),
        (r"^[^0-9]{2}$", None),
        (r"^a|b$", None),
        (r"^\w{3}$", None),
        (r"^.{3}$", None),
    ],
)
def test_fixed_patterns_are_one_width_of_ascii_sets(pattern, width) -> None:
    fixed = fixed_pattern(pattern)
    assert (fixed.width if fixed else None) == width


def test_most_contract_patterns_are_fixed() -> None:
    patterns = contract_patterns()
    fixed = {p for p in patterns if fixed_pattern(p)}
    assert len(fixed) >= len(patterns) - 5, patterns - fixed


def test_fixed_patterns_agree_with_duckdb_on_random_values() -> None:
    """Every fixed contract pattern, over random plain values near its matches, sliced anywhere
    and with NULLs: `matches_all` is true exactly when DuckDB's regular expression matches every
    value."""
    pick = random.Random(11)
    db = duckdb.connect()
    outcomes = []
    for pattern in sorted(p for p in contract_patterns() if fixed_pattern(p)):
        fixed = fixed_pattern(pattern)
        for _ in range(40):
            values = [near_match(fixed, pick) for _ in range(pick.randint(1, 6))]
            start = pick.randint(0, len(values) - 1)
            length = pick.randint(0, len(values) - start)
            kind = pick.choice([pa.string(), pa.large_string()])
            chunk = pa.array(values, kind).slice(start, length)
            shown = values[start : start + length]
            matches = db.execute(
                "SELECT bool_and(regexp_matches(v, $1)) FROM unnest($2::VARCHAR[]) t(v)",
                [pattern, shown],
            ).fetchone()[0]
            assert fixed.matches_all(chunk) is (matches is not False), (pattern, shown)
            outcomes.append(matches is not False)
    assert 0.2 < sum(outcomes) / len(outcomes) < 0.8  # both answers, often


def near_match(fixed, pick: random.Random) -> str | None:
    """A value of the pattern's shape, often with one byte, or its length, wrong; or NULL."""
    if pick.random() < 0.15:
        return None
    chars = [
        chr(pick.choice(sorted(r.allowed))) for r in fixed.runs for _ in range(r.stop - r.start)
    ]
    roll = pick.random()
    if roll < 0.3:
        chars[pick.randrange(len(chars))] = pick.choice("0aZX-\n ")
    elif roll < 0.4:
        chars.append(pick.choice("0\n"))
    elif roll < 0.5:
        chars.pop()
    return "".join(chars)


def test_a_batch_whose_ids_all_match_skips_their_pattern_checks(monkeypatch) -> None:
    """The same rows, values and reasons with the shortcut and without, for a batch whose
    identifiers all match and for one where one does not."""
    validator = Validator(contract("meter_readings_gas"))
    good = pa.table({f: [v, v] for f, v in zip(FIELDS, PLAIN_ROW, strict=True)})
    bad = good.set_column(0, "meter_id", pa.array(["GM00000001", "GM0000000X"]))
    lines = pa.array([2, 3], pa.int64())
    results = [validator.run(batch, lines) for batch in (good, bad)]
    queries = [query for query, _ in validator.queries.values()]
    assert ["^GM" in q for q in queries] == [False, True]
    assert ["^F" in q for q in queries] == [False, False]
    monkeypatch.setattr(Validator, "fixed_patterns", {})
    validator.queries.clear()
    assert [validator.run(batch, lines) for batch in (good, bad)] == results
    assert results[1].column("_reason").to_pylist() == [
        None,
        'meter_id: "GM0000000X" does not match ^GM\\d{8}$',
    ]


def test_a_pattern_is_judged_as_duckdb_runs_it(tmp_path) -> None:
    """Found in review: the contract's `\\u0041` is `\\x{0041}` in the query (`re2`); judged
    as spelt, the pattern was taken for a fixed one that DuckDB does not run."""

    def escaped(doc: dict) -> None:
        column(doc, "meter_id")["logicalTypeOptions"]["pattern"] = r"^GM\\u0041$"

    validator = Validator(edited_contract(tmp_path, "meter_readings_gas", escaped))
    assert "meter_id" not in validator.fixed_patterns
    assert "flat_id" in validator.fixed_patterns


@pytest.mark.parametrize(
    ("delivered", "kept"),
    [
        ("\tGM00000001 \r\n", "GM00000001"),  # an export's tab and line break
        ("\u3000\t浦东\t\u3000", "浦东"),  # full-width space and tab, in turn
        ("ＧＭ１\t", "GM1"),
        (" a\tb ", "a\tb"),  # inside a value, kept
        ("\xa0x\u2003", "x"),
        ("\t\r\n", None),  # blanks alone are missing
        ("\x01x", "\x01x"),  # other control characters are the unit's to explain
    ],
)
def test_blanks_of_every_kind_are_trimmed(delivered, kept) -> None:
    assert validate.normalised_text(delivered) == kept


def test_tabs_and_line_breaks_at_the_ends_of_values_are_trimmed_on_both_roads(monkeypatch) -> None:
    """A batch whose codes end in a tab is not plain: the query trims them, and the row is
    valid; without the shortcut, the same."""
    validator = Validator(contract("meter_readings_gas"))
    row = [*PLAIN_ROW[:5], "measured\r"]
    row[0] = "GM00000001\t"
    source = pa.table({f: [v] for f, v in zip(FIELDS, row, strict=True)})
    lines = pa.array([2], pa.int64())
    assert plain_fields(source) == {1, 2, 3, 4}
    checked = validator.run(source, lines)
    assert checked.column("_reason").to_pylist() == [None]
    assert checked.column("meter_id").to_pylist() == ["GM00000001"]
    assert checked.column("quality_code").to_pylist() == ["measured"]
    monkeypatch.setattr(validate, "plain_fields", lambda table: frozenset())
    assert validator.run(source, lines).equals(checked)


def test_a_field_holds_a_value_exactly_when_normalising_leaves_one() -> None:
    """`holds_value` (which of two spellings fills a column) and `first_value` agree with the
    normalising expression: blanks of every kind and invisible marks alone are no value."""
    pieces = [" ", "\t", "\n", "\u3000", "\xa0", "\u200b", "\ufeff", "\v", "\u0085", "a", "１"]
    pick = random.Random(11)
    values = ["", *("".join(pick.choices(pieces, k=pick.randint(1, 4))) for _ in range(200))]
    held = validate.holds_value(pa.chunked_array([pa.array(values)]))
    with duckdb.connect() as db:
        firsts = [
            db.execute(f"SELECT {validate.first_value(['$1', '$2'])}", [v, "other"]).fetchone()[0]
            for v in values
        ]
    for value, holds, first in zip(values, held, firsts, strict=True):
        assert holds == (validate.normalised_text(value) is not None), repr(value)
        assert first == (value if holds else "other"), repr(value)


def test_extra_fields_keep_blank_values_as_delivered_in_either_spelling() -> None:
    """Found in review: an extra field is kept as delivered, not normalised, so a value of
    blanks alone is a value there, whether or not another spelling of the field is present."""
    validator = Validator(contract("meter_readings_gas"))
    base = {f: [v] * 3 for f, v in zip(FIELDS, PLAIN_ROW, strict=True)}
    alone = pa.table({**base, "Remark": ["\u3000", " ", "x"]})
    both = pa.table({**base, "Remark": ["\u3000", " ", "x"], "remark": pa.nulls(3, pa.string())})
    lines = pa.array([2, 3, 4], pa.int64())
    for table in (alone, both):
        checked = validator.run(table, lines)
        assert checked.column("remark").to_pylist() == ["\u3000", " ", "x"]
    groups = validator.field_group, validator.as_delivered
    assert validate.repeated_field(both, *groups) is None
    clash = both.set_column(7, "remark", pa.array([None, "y", None]))
    assert validate.repeated_field(clash, *groups) == (
        "field 'Remark' appears twice (fields 7 and 8)"
    )
