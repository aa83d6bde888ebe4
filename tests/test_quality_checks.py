"""Quality checks in real Dagster runs: a failing critical check stops what is downstream."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
from deltalake import write_deltalake

from assets.bronze import DELIVERY_DAYS, bronze_asset, bronze_key
from assets.bronze_checks import bronze_checks, bronze_quality_checks, loaded_event_dates
from assets.delta_scan import duckdb_scan
from assets.ingest.landing import DELIVERY_ZONE
from assets.registry import load_contracts
from tests.ingest_support import column, contract, deliver, edited_contract, table

HEADER = "meter_id,flat_id,read_at,reading,reset_flag,quality_code\n"
FIRST = "GM00000001,F00000001,2026-11-16 06:00:00,1.5,false,estimated\n"
SECOND = "GM00000001,F00000001,2026-11-16 12:00:00,2.5,false,measured\n"
GAS = "gas_company/meter_readings/gas_readings_{}.csv"


def run_with_downstream(lake, c) -> dg.ExecuteInProcessResult:
    """Ingest, check and (if the checks allow) build an asset downstream of the bronze table."""
    key = bronze_key(c)

    @dg.asset(deps=[key], partitions_def=DELIVERY_DAYS)
    def downstream() -> None:
        return None

    return dg.materialize(
        [bronze_asset(c), bronze_checks(c), downstream],
        partition_key=datetime.now(DELIVERY_ZONE).date().isoformat(),
        resources={"lake": lake},
        raise_on_error=False,
    )


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}


def test_every_bronze_table_has_checks_and_critical_ones_block() -> None:
    contracts = {c.id for c in load_contracts()}
    checked = {k.asset_key.path[-1] for d in bronze_quality_checks for k in d.check_keys}
    assert checked == contracts
    specs = [s for d in bronze_quality_checks for s in d.check_specs]
    blocking = {s.name for s in specs if s.blocking}
    assert {"meter_id_not_null", "quality_code_in_set", "primary_key_unique"} <= blocking
    assert not {s.name for s in specs if s.blocking} & {"plate_format", "freshness"}


FALLING = "GM00000001,F00000001,2026-11-16 09:00:00,1.0,false,measured\n"


def test_conforming_load_passes_critical_checks_and_downstream_runs(lake) -> None:
    deliver(lake, GAS.format("20261116a"), HEADER + FIRST + FALLING)
    result = run_with_downstream(lake, contract("meter_readings_gas"))
    assert "downstream" in materialized(result)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["quality_code_in_set"].passed
    assert evaluations["quality_code_in_set"].metadata["scope"].value == "event_date in 2026-11-16"
    assert evaluations["meter_id_not_null"].passed
    # flats were never loaded: the rule says why it could not run, and only warns
    flat = evaluations["flat_id_resolves"]
    assert not flat.passed and flat.severity == dg.AssetCheckSeverity.WARN
    assert "bronze_flats" in flat.description
    # a reading that falls without a reset flag only warns, and shows the reading and its time
    falls = evaluations["meter_reading_monotone"]
    assert not falls.passed and falls.severity == dg.AssetCheckSeverity.WARN
    [row] = falls.metadata["unexpected_sample"].value
    assert (row["reading"], row["previous"]) == (1.0, 1.5)
    assert row["read_at"].startswith("2026-11-16 01:00:00")  # 09:00 Shanghai, in UTC
    history = table(lake, "quality", "check_results").to_pylist()
    assert {r["check"] for r in history} >= {"quality_code_in_set", "meter_reading_monotone"}
    assert all(r["table"] == "meter_readings_gas" for r in history)
    docs = Path(lake.uri("quality", "data_docs", "meter_readings_gas", "index.html"))
    [loaded] = [
        m for m in result.get_asset_materialization_events() if m.asset_key.path[0] == "bronze"
    ]
    assert loaded.materialization.metadata["data_docs"].value == str(docs)
    assert docs.exists() and "meter_readings_gas" in docs.read_text(encoding="utf-8")


def test_failing_blocking_check_stops_downstream_in_a_real_run(lake, tmp_path) -> None:
    # Loaded under the contract as it was ...
    deliver(lake, GAS.format("20261116a"), HEADER + FIRST)
    assert run_with_downstream(lake, contract("meter_readings_gas")).success

    # ... then the steward drops `estimated` from the allowed codes: the partition's old row
    # breaks the contract now, and nothing downstream may build on it.
    def tighten(doc: dict) -> None:
        rule = column(doc, "quality_code")["quality"][0]
        rule["arguments"]["validValues"] = ["measured"]

    tightened = edited_contract(tmp_path, "meter_readings_gas", tighten)
    deliver(lake, GAS.format("20261116b"), HEADER + SECOND)
    result = run_with_downstream(lake, tightened)
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = evaluations["quality_code_in_set"]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert "1 unexpected row(s)" in failed.description
    assert failed.metadata["unexpected_sample"].value == ["estimated"]
    assert "bronze/meter_readings_gas" in materialized(result)
    assert "downstream" not in materialized(result)
    assert not result.success


def test_checks_read_only_the_partitions_loaded(lake) -> None:
    rows = pa.table({"n": [1, 2, 3], "event_date": [date(2026, 11, 15), *[date(2026, 11, 16)] * 2]})
    write_deltalake(lake.table("bronze", "t"), rows, partition_by=["event_date"])

    def count(partition) -> int:
        scan = duckdb_scan(lake, "bronze", "t", partition)
        db = duckdb.connect()
        for name, data in scan.arrow.items():
            db.register(name, data)
        return db.sql(f"SELECT count(*) FROM {scan.sql}").fetchall()[0][0]

    assert count(("event_date", ["2026-11-16"])) == 2
    assert count(("event_date", [])) == 0  # the load added no rows: nothing new to check
    assert count(None) == 3  # not known (checks run alone): the whole table
    assert duckdb_scan(lake, "bronze", "missing") is None


def test_checks_scope_their_own_runs_load_when_runs_overlap(lake) -> None:
    """Found in review: the checks read the dates of the asset's latest load in the instance;
    with two runs of a system overlapping, one run checked the other's partitions only."""
    gas = contract("meter_readings_gas")
    header = "meter_id,flat_id,read_at,reading,reset_flag,quality_code\n"
    runs = []
    with dg.instance_for_test() as instance:
        for day in ("16", "20"):
            rel = f"gas_company/meter_readings/gas_readings_202611{day}.csv"
            deliver(lake, rel, header + f"GM00000001,F00000001,2026-11-{day} 06:00:00,1,,\n")
            config = {"ops": {"bronze__meter_readings_gas": {"config": {"paths": [rel]}}}}
            result = dg.materialize(
                [bronze_asset(gas)], instance=instance, resources={"lake": lake},
                partition_key=f"2026-11-{day}", run_config=config,
            )  # fmt: skip
            runs.append(result.run_id)
        key = bronze_key(gas)
        assert loaded_event_dates(instance, runs[0], key) == ["2026-11-16"]
        assert loaded_event_dates(instance, runs[1], key) == ["2026-11-20"]
        assert loaded_event_dates(instance, "a-run-of-the-checks-alone", key) == ["2026-11-20"]
