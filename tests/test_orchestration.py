"""The Dagster definitions: one asset per contract, real runs, the landing sensor."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import pytest
from deltalake import DeltaTable

from assets import maintenance
from assets.bronze import DELIVERY_DAYS, bronze_asset, bronze_assets
from assets.ingest.ingest import FilesFailed, ingest_landing
from assets.ingest.landing import DELIVERY_ZONE, SETTLE_SECONDS, delivery_date, system_lock
from assets.registry import load_contracts
from orchestration import sensors
from orchestration.definitions import defs
from orchestration.sensors import landing_sensor
from tests.ingest_support import contract, deliver, edited_contract, table
from tests.test_ingest_formats import station_status, with_landing_patterns

GAS = "gas_company/meter_readings/gas_readings_20261116.csv"
HEADER = "meter_id,flat_id,read_at,reading,reset_flag,quality_code\n"
BODY = (
    HEADER + "GM00000001,F00000001,2026-11-16 06:00:00,1.5,false,measured\n"
    "GM00000001,F00000001,2026-11-16 06:00:00,1.5,false,measured\n"
)


def test_every_contract_is_an_asset_with_its_unit_stewards_and_schema() -> None:
    contracts = {c.id: c for c in load_contracts()}
    specs = {s.key.path[-1]: s for a in bronze_assets for s in a.specs}
    assert set(specs) == set(contracts)
    for system, spec in specs.items():
        c = contracts[system]
        assert spec.group_name == c.unit
        assert spec.owners == [f"{s}@citybrain.local" for s in c.stewards]
        schema = spec.metadata["dagster/column_schema"]
        assert [col.name for col in schema.columns] == c.column_names
        assert all(col.tags["tier"] in {"L1", "L2", "L3", "L4"} for col in schema.columns)
    repo = defs.get_repository_def()
    assert repo.get_sensor_def("landing_sensor") and repo.get_schedule_def("nightly_maintenance")


def test_a_real_partitioned_run_ingests_and_checks_balance(lake) -> None:
    deliver(lake, GAS, BODY)
    today = datetime.now(DELIVERY_ZONE).date().isoformat()
    result = dg.materialize(
        [bronze_asset(contract("meter_readings_gas"))],
        partition_key=today,
        resources={"lake": lake},
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("bronze__meter_readings_gas")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert (meta["rows_read"], meta["rows_loaded"], meta["rows_quarantined"]) == (2, 1, 1)
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks == {"counts_balance": True, "no_schema_drift": True}
    assert table(lake, "bronze", "meter_readings_gas").num_rows == 1


def sensor_requests(lake) -> list[dg.RunRequest]:
    """What one tick of the landing sensor asks for."""
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, resources={"lake": lake})
        return list(landing_sensor(context))


def settle(path: Path) -> None:
    """Make a landing file look unchanged for longer than the sensor waits."""
    then = time.time() - SETTLE_SECONDS - 1
    os.utime(path, (then, then))


def test_the_landing_sensor_waits_for_a_file_still_being_written(lake) -> None:
    path = deliver(lake, GAS, BODY[:70])  # an upload under way: half a row so far
    assert sensor_requests(lake) == []
    path.write_text(BODY, encoding="utf-8")  # the upload ends
    assert sensor_requests(lake) == []  # just changed: still waiting
    settle(path)
    [request] = sensor_requests(lake)
    assert request.run_config["ops"]["bronze__meter_readings_gas"]["config"] == {"paths": [GAS]}


def test_files_dated_before_the_partitions_or_ahead_of_the_clock_get_runs(lake) -> None:
    """Found in review: a file keeping its sender's older time (`rsync -a`) failed every tick
    of the sensor (no partition for its day), and one dated ahead waited, unsaid, till then."""
    old, ahead = GAS.replace(".csv", "_old.csv"), GAS.replace(".csv", "_ahead.csv")
    for rel, at in [(old, datetime(2025, 10, 26, 8)), (ahead, datetime.now() + timedelta(days=2))]:
        path = deliver(lake, rel, BODY.replace("1.5", rel[-8:-4]))
        os.utime(path, (at.timestamp(), at.timestamp()))
    requests = {r.partition_key: r for r in sensor_requests(lake)}
    today = datetime.now(DELIVERY_ZONE).date().isoformat()
    assert sorted(requests) == ["2026-01-01", today]
    for day, rel in [("2026-01-01", old), (today, ahead)]:
        config = requests[day].run_config["ops"]["bronze__meter_readings_gas"]["config"]
        assert config == {"paths": [rel]}


def test_a_file_removed_after_the_listing_fails_no_tick(lake, monkeypatch) -> None:
    """Found in review: a file removed between the sensor's listing and its look at the file
    failed the whole tick, for every system."""
    settle(deliver(lake, GAS, BODY))
    gone = (lake.landing_root / GAS.replace(".csv", "_gone.csv"), GAS.replace(".csv", "_gone.csv"))
    listed = sensors.landing_files
    monkeypatch.setattr(sensors, "landing_files", lambda root, c: [*listed(root, c), gone])
    [request] = sensor_requests(lake)
    assert request.run_config["ops"]["bronze__meter_readings_gas"]["config"] == {"paths": [GAS]}


def test_the_landing_sensor_requests_runs_keyed_by_content(lake) -> None:
    path = deliver(lake, GAS, BODY)
    settle(path)
    requests = sensor_requests(lake)
    assert len(requests) == 1
    [request] = requests
    assert request.run_key.startswith("meter_readings_gas:")
    assert request.partition_key == delivery_date(path).isoformat()
    assert DELIVERY_DAYS.has_partition_key(request.partition_key)
    config = request.run_config["ops"]["bronze__meter_readings_gas"]["config"]
    assert config == {"paths": [GAS]}
    dg.materialize(
        [bronze_asset(contract("meter_readings_gas"))],
        partition_key=request.partition_key,
        resources={"lake": lake},
        run_config=request.run_config,
    )
    assert sensor_requests(lake) == []  # ingested: nothing more to do
    settle(deliver(lake, GAS.replace(".csv", "_resent.csv"), BODY))  # the same bytes again
    [resent] = sensor_requests(lake)
    assert resent.run_key != request.run_key  # Dagster would skip a run key it has seen


def test_a_file_that_breaks_the_ingest_holds_back_no_other_and_fails_the_run(
    lake, monkeypatch
) -> None:
    """A reader's bug on one file (here: planted) must not keep a day's other files out, nor
    hide: the run fails naming it, the file stays pending, and once mended it goes in."""
    from assets.ingest import ingest as ingest_module

    days = ("20261116", "20261117", "20261118")
    for day in days:
        deliver(lake, GAS.replace("20261116", day), BODY.replace("GM00000001", f"GM{day}"))
    real = ingest_module.read_batches

    def broken(path, *args):
        if "20261117" in path.name:
            raise RuntimeError("a reader's bug")
        return real(path, *args)

    monkeypatch.setattr(ingest_module, "read_batches", broken)
    asset = bronze_asset(contract("meter_readings_gas"))
    result = dg.materialize([asset], resources={"lake": lake}, raise_on_error=False)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "1 file(s) could not be ingested and stay pending" in message
    assert "gas_readings_20261117.csv: RuntimeError: a reader's bug" in message
    [materialization] = result.asset_materializations_for_node("bronze__meter_readings_gas")
    assert materialization.metadata["files"].value == 2
    ledger = table(lake, "ledger", "files").column("path").to_pylist()
    assert sorted(p.rsplit("_", 1)[1] for p in ledger) == ["20261116.csv", "20261118.csv"]
    assert table(lake, "bronze", "meter_readings_gas").num_rows == 2

    monkeypatch.setattr(ingest_module, "read_batches", real)  # mended
    assert dg.materialize([asset], resources={"lake": lake}).success
    assert table(lake, "ledger", "files").num_rows == 3
    assert table(lake, "bronze", "meter_readings_gas").num_rows == 3  # a row from each file


def test_a_file_whose_name_is_not_utf8_stays_pending_named_and_holds_back_no_other(lake) -> None:
    """Found by fuzzing: a GBK file name failed every run, unnamed, with UnicodeEncodeError."""
    settle(deliver(lake, GAS, BODY))
    folder = os.fsencode(lake.landing_root / "gas_company/meter_readings")
    odd = folder + "/gas_readings_20261116_北京.csv".encode("gbk")
    Path(os.fsdecode(odd)).write_text(BODY, encoding="utf-8")
    settle(Path(os.fsdecode(odd)))
    [request] = sensor_requests(lake)  # the good file's; the odd one is said in the log, left
    assert request.run_config["ops"]["bronze__meter_readings_gas"]["config"] == {"paths": [GAS]}
    with pytest.raises(FilesFailed) as failed:
        ingest_landing(contract("meter_readings_gas"), lake, "test")
    assert [(r.path, r.status) for r in failed.value.results] == [(GAS, "loaded")]
    assert str(failed.value).endswith(
        "gas_readings_20261116_\\xb1\\xb1\\xbe\\xa9.csv): rename the file to load it"
    )


def test_a_file_two_landing_patterns_read_differently_stays_pending_named(
    lake, tmp_path, monkeypatch
) -> None:
    """Which operator `bike_operators/a/b/...` is, `a` or `b`, is the contract's to say: the
    file is not guessed at; the run fails naming it and both patterns, the sensor says so."""
    edit = with_landing_patterns(
        "bike_operators/{operator}/*/station_status.json",
        "bike_operators/*/{operator}/station_status.json",
    )
    bikes = edited_contract(tmp_path, "bike_station_status", edit)
    monkeypatch.setattr("orchestration.sensors.load_contracts", lambda: [bikes])
    rel = "bike_operators/hellobike/20261116T0800/station_status.json"
    settle(deliver(lake, rel, json.dumps(station_status())))
    assert sensor_requests(lake) == []
    with pytest.raises(FilesFailed) as failed:
        ingest_landing(bikes, lake, "test")
    assert failed.value.results == []
    assert str(failed.value).endswith(
        f"PathValuesDiffer: landing patterns disagree on operator for {rel}: "
        "'bike_operators/{operator}/*/station_status.json' gives 'hellobike' but "
        "'bike_operators/*/{operator}/station_status.json' gives '20261116T0800'"
    )
    assert not (lake.local("ledger") / "files").exists()


def test_maintenance_compacts_every_table_even_when_a_commit_races_it(lake, monkeypatch) -> None:
    """Found in review: a commit landing during a compaction (an upsert's merge rewrites files)
    failed the nightly run, and the tables after it were neither compacted nor vacuumed. Here a
    row of bronze is deleted after maintenance loaded it; the run retries on the table as it is
    now."""
    gas = contract("meter_readings_gas")
    for n in range(3):  # three loads: three small files in each table
        rows = f"GM0000000{n},F0000000{n},2026-11-16 06:00:00,1.5,false,measured\n"
        bad = "GM1,F1,x,y,false,measured\n"
        deliver(lake, GAS.replace("20261116", f"2026111{n}"), HEADER + rows + bad)
        ingest_landing(gas, lake, "test")
    bronze = lake.table("bronze", gas.id)
    raced: list[str] = []

    class RacedTable(DeltaTable):
        @property
        def optimize(self):  # a commit after this table was loaded
            if self.table_uri.rstrip("/").endswith(f"bronze/{gas.id}") and not raced:
                raced.append(gas.id)
                DeltaTable(bronze).delete("meter_id = 'GM00000000'")
            return super().optimize

    monkeypatch.setattr(maintenance, "DeltaTable", RacedTable)
    config = {"ops": {"maintenance__compact_and_vacuum": {"config": {"retention_hours": 0}}}}
    result = dg.materialize(
        [maintenance.compact_and_vacuum], resources={"lake": lake}, run_config=config
    )
    assert result.success and raced == [gas.id]
    for zone, name, rows in [
        ("bronze", gas.id, 2),
        ("quarantine", gas.id, 3),
        ("ledger", "files", 3),
    ]:
        assert len(DeltaTable(lake.table(zone, name)).file_uris()) == 1  # compacted
        assert table(lake, zone, name).num_rows == rows


def test_maintenance_removes_the_files_of_a_run_killed_before_its_commit(lake) -> None:
    """Bronze's files are written before the commit that adds them: a run killed in between
    leaves files no reader sees, which the vacuum removes once a week old, whatever the
    retention: a younger one may be an ingest's, written but not yet committed."""
    gas = contract("meter_readings_gas")
    rows = "GM00000001,F00000001,2026-11-16 06:00:00,1.5,false,measured\n"
    deliver(lake, GAS, HEADER + rows)
    ingest_landing(gas, lake, "test")
    bronze = Path(lake.table("bronze", gas.id))
    kept = sorted(bronze.rglob("*.parquet"))
    killed = kept[0].with_name("part-00000-killed-c000.snappy.parquet")
    writing = kept[0].with_name("part-00000-writing-c000.snappy.parquet")
    for orphan in (killed, writing):
        orphan.write_bytes(kept[0].read_bytes())
    week_ago = time.time() - (maintenance.SAFE_RETENTION_HOURS + 1) * 3600
    os.utime(killed, (week_ago, week_ago))
    config = {"ops": {"maintenance__compact_and_vacuum": {"config": {"retention_hours": 0}}}}
    result = dg.materialize(
        [maintenance.compact_and_vacuum], resources={"lake": lake}, run_config=config
    )
    assert result.success
    assert not killed.exists() and sorted(bronze.rglob("*.parquet")) == sorted([*kept, writing])
    assert table(lake, "bronze", gas.id).num_rows == 1


def test_maintenance_waits_for_an_ingest_of_the_system_under_way(lake) -> None:
    """An ingest re-run removes its earlier attempt's files in its commit. delta-rs lets a
    compaction that removed them in between commit too, and the rows would be there twice:
    maintenance keeps up a system's tables holding the system's ingest lock."""
    gas = contract("meter_readings_gas")
    for meter in (1, 2):  # two files of one day, in two runs: a compaction would join them
        rows = f"GM0000000{meter},F00000001,2026-11-16 06:00:00,1.5,false,measured\n"
        deliver(lake, GAS.replace(".csv", f"_{meter}.csv"), HEADER + rows)
        ingest_landing(gas, lake, "test")
    bronze = lake.table("bronze", gas.id)
    version = DeltaTable(bronze).version()
    with ThreadPoolExecutor(1) as pool, system_lock(lake, gas.id):
        run = pool.submit(
            dg.materialize, [maintenance.compact_and_vacuum], resources={"lake": lake}
        )
        time.sleep(5)
        assert not run.done() and DeltaTable(bronze).version() == version
    assert run.result(timeout=60).success
    assert DeltaTable(bronze).version() > version
    assert table(lake, "bronze", gas.id).num_rows == 2


def test_maintenance_waits_for_a_maintenance_run_under_way(lake) -> None:
    """Two compactions of one table at once both commit in delta-rs, each with its own copy of
    the rows: a second maintenance run waits for the first."""
    with ThreadPoolExecutor(1) as pool, system_lock(lake, maintenance.MAINTENANCE_LOCK):
        second = pool.submit(
            dg.materialize, [maintenance.compact_and_vacuum], resources={"lake": lake}
        )
        time.sleep(1)
        assert not second.done()
    assert second.result(timeout=60).success
    assert maintenance.compact_and_vacuum.op.pool == "lake_maintenance"  # across machines
