"""The shared city model: dbt sources cannot drift from the contracts, `dbt build` runs inside a
real Dagster run on a simulated city, and the unified events agree with the simulator's truth."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import duckdb
import pandas as pd

from assets.city_model.dbt_assets import CITY_MODEL, city_model, dbt_resource
from assets.city_model.sources import generated_files
from assets.city_model.warehouse import warehouse_path
from assets.ingest.ingest import ingest_landing
from assets.lake import LakeResource
from assets.reference_tables import reference_assets
from assets.registry import load_contracts
from citysim.config import RunConfig
from citysim.generate import generate
from tests.ingest_support import table

EVENT_SOURCES = (
    "alarms_110",
    "fire_calls_119",
    "ambulance_120",
    "hotline_12345",
    "grid_cases",
    "iot_readings",
    "video_ai_events",
    "metro_faults",
)


def test_dbt_sources_and_staging_are_generated_from_the_contracts() -> None:
    for path, text in generated_files().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name} differs from the contracts: run `python -m assets.city_model.sources`"
        )
    staged = {p.stem for p in (CITY_MODEL.project_dir / "models" / "staging").glob("stg_*.sql")}
    assert staged == {f"stg_{c.id}" for c in load_contracts()}


def test_sources_carry_the_bronze_asset_keys() -> None:
    deps = {k for spec in city_model.specs for d in spec.deps for k in [d.asset_key]}
    assert {dg.AssetKey(["bronze", c.id]) for c in load_contracts()} <= deps
    assert dg.AssetKey(["reference", "ref_grid_cells"]) in deps
    keys = {s.key for s in city_model.specs}
    assert dg.AssetKey(["city_model", "fct_city_event"]) in keys
    assert dg.AssetKey(["city_model", "stg_hotline_12345"]) in keys


def loaded_ids(lake: LakeResource, system: str) -> set[str]:
    """Record ids of a system that reached bronze (the rest were quarantined: dirt)."""
    key = next(c for c in load_contracts() if c.id == system).primary_key[0]
    rows = table(lake, "bronze", system)
    return set(rows.column(key).to_pylist()) if rows.num_rows else set()


def test_dbt_build_runs_inside_dagster_and_writes_gold(built) -> None:
    lake, _, result = built
    assert result.success
    done = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    assert {"fct_city_event", "dim_area", "stg_alarms_110"} <= done
    checks = result.get_asset_check_evaluations()
    failed = [
        c.check_name for c in checks if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert len(checks) > 30 and failed == []
    gold = table(lake, "gold", "fct_city_event")
    with duckdb.connect(str(warehouse_path(lake)), read_only=True) as db:
        assert gold.num_rows == db.sql("SELECT count(*) FROM marts.fct_city_event").fetchall()[0][0]
    assert gold.num_rows > 0


def test_every_planted_incident_is_one_event_in_its_area(built) -> None:
    """Each incident the simulator planted is in fct_city_event with its type, street and grid
    cell, unless its record was quarantined (dirt); nothing else is there."""
    lake, truth, _ = built
    incidents = pd.read_csv(truth / "incidents.csv")
    incidents = incidents[incidents["system"].isin(EVENT_SOURCES)]
    with duckdb.connect(str(warehouse_path(lake)), read_only=True) as db:
        events = db.sql(
            "SELECT source_system, event_id, event_type, street_code, grid_cell, occurred_at "
            "FROM marts.fct_city_event"
        ).df()
    loaded = {s: loaded_ids(lake, s) for s in (*EVENT_SOURCES, "iot_devices")}
    missing, misplaced = [], []
    for inc in incidents.itertuples():
        if inc.system == "iot_readings":  # one incident, many alarmed readings of its device
            found = events[events["event_id"].str.startswith(f"iot_readings:{inc.record_id}:")]
            found = found[found["event_type"] == inc.event_type]
        else:
            found = events[events["event_id"] == f"{inc.system}:{inc.record_id}"]
        if found.empty:
            if inc.record_id in loaded[inc.system]:  # loaded, yet not an event
                missing.append((inc.system, inc.record_id))
            continue
        first = found.sort_values("occurred_at").iloc[0]
        if inc.system == "iot_readings" and inc.record_id not in loaded["iot_devices"]:
            continue  # the device's registry row was quarantined: its place is unknown
        if first["event_type"] != inc.event_type or first["street_code"] != inc.street_code:
            misplaced.append((inc.system, inc.record_id, first["street_code"], inc.street_code))
        if inc.system != "metro_faults" and first["grid_cell"] != inc.grid_cell:
            misplaced.append((inc.system, inc.record_id, first["grid_cell"], inc.grid_cell))
    assert missing == [] and misplaced == []
    # nothing that was not planted: every non-IoT event is an incident of the truth
    planted = {f"{i.system}:{i.record_id}" for i in incidents.itertuples()}
    extra = events[(events["source_system"] != "iot_readings") & ~events["event_id"].isin(planted)]
    assert extra.empty, extra.head()


def test_vital_sign_counts_agree_with_the_planted_incidents(built) -> None:
    """Per street and day, each event-count sign equals the incidents the simulator planted of
    its kind (less those whose record was quarantined). IoT signs count alarmed readings, not
    incidents, and are left out."""
    lake, truth, _ = built
    incidents = pd.read_csv(truth / "incidents.csv")
    incidents = incidents[incidents["system"].isin((*EVENT_SOURCES[:-3], "video_ai_events"))]
    incidents["day"] = (
        pd.to_datetime(incidents["started_at"]).dt.tz_convert("Asia/Shanghai").dt.date
    )
    loaded = {s: loaded_ids(lake, s) for s in incidents["system"].unique()}
    kept = incidents[
        [r in loaded[s] for s, r in zip(incidents.system, incidents.record_id, strict=True)]
    ]
    with duckdb.connect(str(warehouse_path(lake)), read_only=True) as db:
        signs = db.sql(
            "SELECT indicator, kind, matches, street_code, sign_date, value "
            "FROM marts.mart_vital_signs_daily JOIN main.vital_sign_indicators USING (indicator) "
            "WHERE kind = 'events' AND value > 0"
        ).df()
    checked = 0
    for indicator, rows in signs.groupby("indicator"):
        how, _, what = rows["matches"].iloc[0].partition(":")
        if how == "source":
            planted = kept[kept["system"] == what]
        elif how == "type":
            planted = kept[kept["event_type"] == what]
        else:
            planted = kept[kept["event_type"].str.startswith(what)]
        if planted.empty or planted["system"].eq("iot_readings").any():
            continue
        expected = planted.groupby(["street_code", "day"]).size().to_dict()
        found = {
            (r.street_code, pd.Timestamp(r.sign_date).date()): int(r.value)
            for r in rows.itertuples()
        }
        assert found == expected, indicator
        checked += 1
    assert checked >= 15


def test_muck_truck_cases_find_exactly_the_planted_violations(built) -> None:
    """Every truck the simulator made break the rules has a case of that kind (one case, every
    department concerned), and no lawful truck has one."""
    lake, truth, _ = built
    kinds = {
        "no_permit": "muck.no_permit",
        "off_route": "muck.off_route",
        "uncovered": "video.muck_truck_uncovered",
    }
    trucks = pd.read_csv(truth / "muck_trucks.csv")
    planted = {(t.plate, kinds[t.behaviour]) for t in trucks.itertuples() if t.behaviour in kinds}
    with duckdb.connect(str(warehouse_path(lake)), read_only=True) as db:
        cases = db.sql(
            "SELECT plate, event_type, departments_notified FROM marts.mart_muck_truck_case"
        ).df()
    assert set(zip(cases["plate"], cases["event_type"], strict=True)) == planted
    assert all("greening" in d and "traffic_police" in d for d in cases["departments_notified"])


def test_a_simulated_week_builds_in_one_dagster_run(tmp_path) -> None:
    """Seven days delivered, then the whole model built for the week as one partition range."""
    cfg = RunConfig(
        scale=0.002, days=7, seed=5, dirt_rate=0.01, out=tmp_path / "lake" / "landing",
        truth_out=tmp_path / "truth",
    )  # fmt: skip
    generate(cfg, progress=False)
    lake = LakeResource(root=str(tmp_path / "lake"))
    assert dg.materialize(reference_assets, resources={"lake": lake}).success
    for contract in load_contracts():
        ingest_landing(contract, lake, "week")
    last = cfg.start + timedelta(days=6)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [city_model],
            instance=instance,
            resources={"lake": lake, "dbt": dbt_resource()},
            tags={
                "dagster/asset_partition_range_start": cfg.start.isoformat(),
                "dagster/asset_partition_range_end": last.isoformat(),
            },
        )
    assert result.success
    built_days = {
        e.partition
        for e in result.get_asset_materialization_events()
        if e.asset_key.path[-1] == "fct_city_event"
    }
    assert len(built_days) == 7 and max(built_days) == last.isoformat()
    with duckdb.connect(str(warehouse_path(lake)), read_only=True) as db:
        days = db.sql("SELECT count(DISTINCT event_date) FROM marts.fct_city_event").fetchall()
        signs = db.sql("SELECT count(DISTINCT sign_date) FROM marts.mart_vital_signs_daily")
        assert days[0][0] >= 7 and signs.fetchall()[0][0] >= 7
