"""Ingest benchmark: smart-meter CSV into bronze with validation, against DuckDB's raw COPY.

Side by side in one command, each step in a fresh process (its own peak memory); the baseline
and the ingest run in turn, `PAIRS` times (3), and their medians are compared:
- baseline: DuckDB `COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet)` of the file;
- typed floor: a COPY whose CSV reader parses the contract's types, with the contract's checks on
  the typed values (valid rows, partitioned by event date): the cheapest COPY that validates at
  all, with no normalising, line numbers, duplicates, quarantine or Delta;
- floor: the same COPY through the contract's validation query, as the ingest runs it for this
  file (valid rows, partitioned by event date): what validating costs DuckDB itself, with no
  line numbers, duplicates, quarantine or Delta, so a lower bound for any ingest that validates
  with this query;
- ingest: the bronze asset's code path (scan, read, validate, dedupe, Delta, ledger);
- re-delivery: the same bytes under a new name (hash and ledger check only);
at 2.5, 10 and 40 million rows, to show how time and memory grow with file size; and once more at
10 million rows with 20% invalid readings, to show what quarantining costs.

    python -m bench ingest                       # writes bench/results/ingest.json
    ROWS=1000000 DIRTY_ROWS= python -m bench.ingest   # a quick run, no dirty file
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from csv import reader as csv_rows
from pathlib import Path
from statistics import median

from bench.harness import Measure, in_subprocess, report, save, timed

SIZES = tuple(int(n) for n in os.environ.get("ROWS", "2500000,10000000,40000000").split(","))
DIRTY = tuple(int(n) for n in os.environ.get("DIRTY_ROWS", "10000000").split(",") if n)
PAIRS = int(os.environ.get("PAIRS", "3"))  # baseline and ingest in turn; medians compared
CLEAN_EVERY, DIRTY_EVERY = 1000, 5  # one reading in 1000 (or in 5) is not a number
LANDING = "gas_company/meter_readings/gas_readings_{}.csv"
SYSTEM = "meter_readings_gas"


def make_csv(path: Path, rows: int, bad_every: int = CLEAN_EVERY) -> None:
    """Meter readings as the gas company exports them: 4 reads a day per meter, one reading in
    `bad_every` not a number."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    db = duckdb.connect()
    db.execute("SET enable_progress_bar = false")
    db.execute(f"""
        COPY (
            SELECT printf('GM%08d', i // 4) AS meter_id, printf('F%08d', i // 4) AS flat_id,
                   strftime(TIMESTAMP '2026-11-16 00:00:00'
                            + to_hours(CAST((i % 4) * 6 AS INTEGER)), '%Y-%m-%d %H:%M:%S')
                       AS read_at,
                   CASE WHEN i % {bad_every} = 2 THEN 'n/a'
                        ELSE CAST(round(i % 9973 * 1.37, 3) AS VARCHAR) END AS reading,
                   'false' AS reset_flag, 'measured' AS quality_code
            FROM range({rows}) t(i)
        ) TO '{path}' (FORMAT csv, HEADER)
    """)


def step(kind: str, lake_root: Path, rows: int) -> Measure:
    """One measured step in this process."""
    csv = lake_root / "landing" / LANDING.format("20261116")
    if kind == "duckdb_copy":
        import duckdb

        out = lake_root / "copy.parquet"
        sql = f"COPY (SELECT * FROM read_csv('{csv}')) TO '{out}' (FORMAT parquet)"

        def copy() -> int:
            duckdb.connect().execute(sql)
            return rows

        return timed("duckdb COPY csv->parquet", copy)
    if kind == "validated_copy":
        return validated_copy(csv, lake_root / "validated", rows)
    if kind == "typed_copy":
        return typed_copy(csv, lake_root / "typed", rows)
    import pandas  # noqa: F401  imports are not the ingest's cost; deltalake's reader imports this

    from assets.ingest.ingest import ingest_landing
    from assets.lake import LakeResource
    from assets.registry import CONTRACTS_DIR, load_contract

    contract = load_contract(CONTRACTS_DIR / "systems" / f"{SYSTEM}.yaml")
    lake = LakeResource(root=str(lake_root))
    if kind == "redelivery":
        shutil.copyfile(csv, lake_root / "landing" / LANDING.format("20261116_resent"))
    results = []

    def ingest() -> int:
        results.extend(ingest_landing(contract, lake))
        return sum(r.rows_read for r in results)

    measure = timed(kind, ingest)
    assert all(r.rows_read == r.rows_loaded + r.rows_quarantined for r in results)
    if kind == "redelivery":
        assert [r.status for r in results] == ["duplicate"]
        measure.rows = rows
    return measure


def validated_copy(csv: Path, out: Path, rows: int) -> Measure:
    """DuckDB's COPY of the CSV through the bronze asset's validation query, in one statement:
    the query the ingest runs for batches whose text fields are plain, less the checks their
    buffers prove every row passes, where every batch of this file has them so (found before
    the clock starts). DuckDB parses the times itself."""
    from assets.ingest.validate import Validator, field_alias, ident
    from assets.registry import CONTRACTS_DIR, load_contract

    validator = Validator(load_contract(CONTRACTS_DIR / "systems" / f"{SYSTEM}.yaml"))
    source = f"read_csv('{csv}', all_varchar = true)"
    schema = validator.db.sql(f"SELECT * FROM {source} LIMIT 0").to_arrow_table().schema
    fields = ", ".join(f"{ident(n)} AS {field_alias(i)}" for i, n in enumerate(schema.names))
    validator.db.execute(
        f"CREATE VIEW batch AS SELECT {fields}, 0::BIGINT AS _line, 0::BIGINT AS _row FROM {source}"
    )
    query = validator.query(schema, (), *shortcuts_in_every_batch(csv, validator))
    valid = f"SELECT * FROM ({query}) WHERE _reason IS NULL"
    sql = f"COPY ({valid}) TO '{out}' (FORMAT parquet, PARTITION_BY (_event_date))"

    def copy() -> int:
        validator.db.execute(sql)
        return rows

    return timed("duckdb COPY csv->validated parquet", copy)


def shortcuts_in_every_batch(
    csv: Path, validator
) -> tuple[frozenset[int], frozenset[tuple[str, str]]]:
    """The positions of the fields the ingest's validation finds plain in every batch, and the
    checks it finds every row of every batch passes (`Validator.proven`)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(csv, newline="") as handle:
        names = next(csv_rows(handle))
    reader = pacsv.open_csv(
        csv, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
    )
    plain, proven = None, None
    for batch in reader:
        found = validator.shortcuts(pa.Table.from_batches([batch]))
        plain = found.plain if plain is None else plain & found.plain
        proven = found.proven if proven is None else proven & found.proven
    return plain or frozenset(), proven or frozenset()


def typed_copy(csv: Path, out: Path, rows: int) -> Measure:
    """DuckDB's COPY with the contract's types parsed by its own CSV reader (a value that does
    not parse goes to its rejects table) and the contract's checks on the typed values,
    partitioned by event date. No normalising (full-width digits, other date formats), line
    numbers, duplicates, quarantine or Delta: the cheapest COPY that validates at all."""
    import duckdb

    from assets.ingest.validate import column_checks, ident, literal
    from assets.registry import CONTRACTS_DIR, load_contract

    contract = load_contract(CONTRACTS_DIR / "systems" / f"{SYSTEM}.yaml")
    types = ", ".join(f"{literal(c.name)}: {literal(c.physicalType)}" for c in contract.columns)
    failures = [
        f"coalesce({condition}, false)"
        for c in contract.columns
        for condition, _ in column_checks(
            c, ident(c.name), ident(c.name), c.name == contract.event_time_column
        )
    ]
    local = ident(contract.event_time_column)  # naive local time, as the units write it
    zone = literal(contract.settings.timezone)
    source = (
        f"read_csv('{csv}', header = true, auto_detect = false, columns = {{{types}}}, "
        "store_rejects = true)"
    )
    valid = (
        f"SELECT * REPLACE (timezone({zone}, {local}) AS {local}), "
        f"CAST({local} AS DATE) AS _event_date FROM {source} WHERE NOT ({' OR '.join(failures)})"
    )
    sql = f"COPY ({valid}) TO '{out}' (FORMAT parquet, PARTITION_BY (_event_date))"

    def copy() -> int:
        duckdb.connect().execute(sql)
        return rows

    return timed("duckdb COPY csv->typed, checked parquet", copy)


def run() -> dict:
    """Every size: floors, baseline and ingest in turn (`PAIRS` times), re-delivery; the median
    ingest against the median baseline of the same size."""
    runs = []
    for rows, bad_every in [(n, CLEAN_EVERY) for n in SIZES] + [(n, DIRTY_EVERY) for n in DIRTY]:
        root = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
        try:
            make_csv(root / "landing" / LANDING.format("20261116"), rows, bad_every)
            size_mb = (root / "landing" / LANDING.format("20261116")).stat().st_size / 2**20
            typed = in_subprocess("bench.ingest", "step", "typed_copy", str(root), str(rows))
            floor = in_subprocess("bench.ingest", "step", "validated_copy", str(root), str(rows))
            bases, ours = [], []
            for _ in range(PAIRS):
                only_landing(root)
                bases.append(
                    in_subprocess("bench.ingest", "step", "duckdb_copy", str(root), str(rows))
                )
                ours.append(in_subprocess("bench.ingest", "step", "ingest", str(root), str(rows)))
            again = in_subprocess("bench.ingest", "step", "redelivery", str(root), str(rows))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        runs.append(figures(rows, 1 / bad_every, size_mb, bases, typed, floor, ours, again))
    payload = {"system": SYSTEM, "baseline": "DuckDB COPY of the same CSV to Parquet", "runs": runs}
    save("ingest", payload)
    return payload


def figures(
    rows: int,
    invalid_share: float,
    size_mb: float,
    bases: list[Measure],
    typed: Measure,
    floor: Measure,
    ours: list[Measure],
    again: Measure,
) -> dict:
    """One size's figures: medians of the pairs (their highest peaks), every pair's ratio, and the
    floors and re-delivery against the median baseline and ingest."""
    base_s = round(median(m.seconds for m in bases), 3)
    ingest_s = round(median(m.seconds for m in ours), 3)
    return {
        "rows": rows, "invalid_share": invalid_share, "file_mb": round(size_mb, 1),
        "duckdb_s": base_s, "duckdb_peak_mb": max(m.peak_mb for m in bases),
        "typed_copy_s": typed.seconds, "typed_copy_peak_mb": typed.peak_mb,
        "typed_copy_ratio": round(typed.seconds / base_s, 2),
        "validated_copy_s": floor.seconds, "validated_copy_peak_mb": floor.peak_mb,
        "validated_copy_ratio": round(floor.seconds / base_s, 2),
        "ingest_s": ingest_s, "ingest_peak_mb": max(m.peak_mb for m in ours),
        "ingest_rows_per_s": round(rows / ingest_s),
        "time_ratio": round(ingest_s / base_s, 2),
        "pairs": [
            {"duckdb_s": b.seconds, "ingest_s": o.seconds, "ratio": round(o.seconds / b.seconds, 2)}
            for b, o in zip(bases, ours, strict=True)
        ],
        "redelivery_s": again.seconds, "redelivery_peak_mb": again.peak_mb,
        "redelivery_share": round(again.seconds / ingest_s, 3),
    }  # fmt: skip


def only_landing(root: Path) -> None:
    """Remove all but the landing folder: the lake and the copies of a pair before."""
    for child in root.iterdir():
        if child.is_dir() and child.name != "landing":
            shutil.rmtree(child)
        elif child.is_file():
            child.unlink()


if __name__ == "__main__":
    if sys.argv[1:2] == ["step"]:
        report(step(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])))
    else:
        print(run())
