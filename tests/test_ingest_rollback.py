"""Rolling back a bad load with Delta time travel: bronze as it was, the bad files forgotten (so
their corrected versions load), the rollback recorded, and nothing else touched."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from assets.ingest import ingest as ingest_module
from assets.ingest import rollback
from assets.ingest.ingest import SystemIngest
from assets.ingest.landing import landing_files, system_lock
from assets.ingest.rollback import main, roll_back, versions
from tests.ingest_support import contract, deliver, ingest, table
from tests.test_ingest_exactly_once import GAS, HEADER, gas_file, hotline_file

HOTLINE = "hotline/hotline_12345/requests_20261116_{}.json"


def bronze_version(lake, system: str) -> int:
    return DeltaTable(lake.table("bronze", system)).version()


def test_a_bad_load_is_rolled_back_and_its_corrected_file_loads(lake, capsys) -> None:
    gas = contract("meter_readings_gas")
    deliver(lake, GAS.format("20261116"), gas_file(0, 50))
    ingest(lake, gas)
    good = bronze_version(lake, "meter_readings_gas")
    bad = (
        gas_file(100, 30) + HEADER.replace("reading", "x") + "GM1,F1,yesterday,abc,false,measured\n"
    )
    deliver(lake, GAS.format("20261117"), bad)
    [loaded] = ingest(lake, gas)
    assert loaded.rows_loaded == 30 and loaded.rows_quarantined == 2

    done = roll_back(lake, "meter_readings_gas", good, reason="wrong meter export")

    assert (done.files, done.rows_removed) == ([GAS.format("20261117")], 30)
    bronze = table(lake, "bronze", "meter_readings_gas")
    assert bronze.num_rows == 50 and set(bronze.column("meter_id").to_pylist()) == {
        f"GM{m:08d}" for m in range(50)
    }
    assert table(lake, "quarantine", "meter_readings_gas").num_rows == 0
    ledger = table(lake, "ledger", "files")
    assert ledger.column("path").to_pylist() == [GAS.format("20261116")]
    [record] = table(lake, "ledger", "rollbacks").to_pylist()
    assert (record["from_version"], record["to_version"], record["reason"]) == (
        good + 1, good, "wrong meter export",
    )  # fmt: skip
    # the rollback is itself a version: it can be undone by time travel too
    assert bronze_version(lake, "meter_readings_gas") == good + 2

    deliver(lake, GAS.format("20261117"), gas_file(100, 40))  # the unit's corrected file
    [again] = ingest(lake, gas)
    assert (again.status, again.rows_loaded, again.rows_quarantined) == ("loaded", 40, 0)
    assert table(lake, "bronze", "meter_readings_gas").num_rows == 90


def test_rolling_back_an_upsert_restores_the_earlier_state_and_its_history(lake) -> None:
    hotline = contract("hotline_12345")
    rid = "H202611160001"
    deliver(
        lake, HOTLINE.format("0800"), hotline_file([(rid, "received", "2026-11-16T08:00:00+08:00")])
    )
    ingest(lake, hotline)
    good = bronze_version(lake, "hotline_12345")
    deliver(
        lake, HOTLINE.format("0900"), hotline_file([(rid, "closed", "2026-11-16T08:30:00+08:00")])
    )
    ingest(lake, hotline)
    assert table(lake, "bronze", "hotline_12345").column("status").to_pylist() == ["closed"]

    roll_back(lake, "hotline_12345", good)

    assert table(lake, "bronze", "hotline_12345").column("status").to_pylist() == ["received"]
    history = table(lake, "bronze", "hotline_12345_history")
    assert history.column("status").to_pylist() == ["received"]
    ledger = table(lake, "ledger", "files")
    assert ledger.filter(pc.field("system") == "hotline_12345").num_rows == 1


def test_a_rollback_refuses_what_it_cannot_do_and_lists_versions(lake, monkeypatch, capsys) -> None:
    gas = contract("meter_readings_gas")
    deliver(lake, GAS.format("20261116"), gas_file(0, 5))
    ingest(lake, gas)
    current = bronze_version(lake, "meter_readings_gas")
    with pytest.raises(ValueError, match=f"at version {current}"):
        roll_back(lake, "meter_readings_gas", current)
    with pytest.raises(ValueError, match="no contract"):
        roll_back(lake, "no_such_system", 0)
    monkeypatch.setenv("CITYBRAIN_LAKE", lake.root)
    assert main(["meter_readings_gas"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(versions(lake, "meter_readings_gas")) == current + 1
    assert main(["meter_readings_gas", "--to-version", str(current + 5)]) == 2
    assert table(lake, "bronze", "meter_readings_gas").num_rows == 5  # untouched


def load_straddling_a_compaction(lake, monkeypatch) -> tuple[str, int]:
    """Two good loads, then a bad one during which maintenance compacts bronze (it commits
    without the system's lock): the bad file's path and the compaction's version."""
    gas = contract("meter_readings_gas")
    for day, first in [("20261114", 0), ("20261115", 100)]:
        deliver(lake, GAS.format(day), gas_file(first, 50))
        ingest(lake, gas)
    uri = lake.table("bronze", "meter_readings_gas")
    write = ingest_module.replace_file_rows

    def compacted_first(target: str, *args, **kwargs) -> None:
        if target == uri:  # nightly maintenance, between this load's start and its write
            DeltaTable(target).optimize.compact()
        write(target, *args, **kwargs)

    monkeypatch.setattr(ingest_module, "replace_file_rows", compacted_first)
    deliver(lake, GAS.format("20261116"), gas_file(1000, 30) + "GM1,F1,x,y,false,measured\n")
    [bad] = ingest(lake, gas)
    monkeypatch.undo()
    [compaction] = [v for v in versions(lake, gas.id) if v["operation"] == "OPTIMIZE"]
    return bad.path, compaction["version"]


def assert_forgotten_and_loads_again(lake, path: str) -> None:
    """Bronze and quarantine as before the file, the ledger without it, the file set aside (no
    run takes it again unasked), and sent again it loads."""
    assert table(lake, "bronze", "meter_readings_gas").num_rows == 100
    assert table(lake, "quarantine", "meter_readings_gas").num_rows == 0
    assert path not in table(lake, "ledger", "files").column("path").to_pylist()
    gas = contract("meter_readings_gas")
    assert ingest(lake, gas) == []  # a backfill of its day does not load it again
    [moved] = (lake.landing_root / ".rolled_back").glob(f"*/{path}")
    deliver(lake, path, moved.read_bytes())  # the unit sends it again
    [again] = ingest(lake, gas)
    assert (again.path, again.rows_loaded) == (path, 30)


def test_a_rollback_to_a_compaction_during_a_load_forgets_that_load(lake, monkeypatch) -> None:
    """Found in review: rolled back to a compaction that landed while a file loaded, bronze lost
    the file's rows but the ledger kept it (chosen by when it started): it never loaded again."""
    path, compaction = load_straddling_a_compaction(lake, monkeypatch)
    done = roll_back(lake, "meter_readings_gas", compaction)
    assert (done.files, done.rows_removed) == ([path], 30)
    assert (lake.landing_root / done.set_aside / path).is_file()
    assert_forgotten_and_loads_again(lake, path)


def test_a_rollback_stopped_part_way_is_finished_by_running_it_again(lake, monkeypatch) -> None:
    """Found in review: a rollback stopped after restoring bronze could not be finished, since
    bronze no longer showed which files' rows had left it. Bronze is now restored last."""
    path, compaction = load_straddling_a_compaction(lake, monkeypatch)
    delete = rollback.delete_where

    def ledger_unreachable(lake, zone: str, name: str, predicate: str) -> None:
        if zone == "ledger":
            raise OSError("the ledger's store is unreachable")
        delete(lake, zone, name, predicate)

    monkeypatch.setattr(rollback, "delete_where", ledger_unreachable)
    with pytest.raises(rollback.RollbackUnfinished, match="run the same rollback again"):
        roll_back(lake, "meter_readings_gas", compaction)
    monkeypatch.undo()
    assert table(lake, "bronze", "meter_readings_gas").num_rows == 130  # not restored yet
    done = roll_back(lake, "meter_readings_gas", compaction)
    assert (done.files, done.rows_removed) == ([path], 30)
    assert_forgotten_and_loads_again(lake, path)


def test_a_rollback_retries_a_lost_race_on_the_tables_as_they_are_now(lake, monkeypatch) -> None:
    """Found in review: a rollback retried a lost commit race on the table as it had loaded it,
    failing every time, and stopped half done (bronze restored, the ledger still saying the
    file was loaded). Here maintenance compacts each table just before the rollback writes."""
    gas = contract("meter_readings_gas")
    deliver(lake, GAS.format("20261116"), gas_file(0, 50))
    ingest(lake, gas)
    good = bronze_version(lake, "meter_readings_gas")
    deliver(lake, GAS.format("20261117"), gas_file(100, 30) + "GM1,F1,x,y,false,measured\n")
    ingest(lake, gas)
    raced: set[str] = set()

    class RacedTable(DeltaTable):
        def delete(self, predicate: str | None = None, **kwargs):
            if self.table_uri not in raced:  # once per table
                raced.add(self.table_uri)
                DeltaTable(self.table_uri).optimize.compact(min_commit_interval=0)
            return super().delete(predicate, **kwargs)

    monkeypatch.setattr(rollback, "DeltaTable", RacedTable)
    done = roll_back(lake, "meter_readings_gas", good)

    assert raced and (done.files, done.rows_removed) == ([GAS.format("20261117")], 30)
    assert table(lake, "ledger", "files").column("path").to_pylist() == [GAS.format("20261116")]
    assert table(lake, "quarantine", "meter_readings_gas").num_rows == 0


def test_a_rollback_waits_for_a_running_ingest_and_undoes_it_too(lake) -> None:
    """Found in review: a rollback read bronze's version before waiting for the system's lock;
    an ingest committing meanwhile made its restore fail, whatever the retries."""
    gas = contract("meter_readings_gas")
    deliver(lake, GAS.format("20261116"), gas_file(0, 50))
    ingest(lake, gas)
    good = bronze_version(lake, "meter_readings_gas")
    deliver(lake, GAS.format("20261117"), gas_file(100, 30))
    with ThreadPoolExecutor(1) as pool, system_lock(lake, "meter_readings_gas"):
        waiting = pool.submit(roll_back, lake, "meter_readings_gas", good)
        time.sleep(0.5)  # the rollback is waiting for the lock
        job = SystemIngest(gas, lake, "running")  # an ingest that holds the lock
        job.ingest(landing_files(lake.landing_root, gas)[1:], {})
    done = waiting.result(timeout=60)
    assert done.files == [GAS.format("20261117")]
    assert table(lake, "bronze", "meter_readings_gas").num_rows == 50
