"""Risk models: the feature SQL, the group-rental model, the clone rules, and the assets in a
real Dagster run on a simulated city, measured against its truth."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from assets.city_model.dbt_assets import city_model, dbt_resource
from assets.city_model.warehouse import warehouse_path
from assets.ingest.ingest import ingest_landing
from assets.lake import LakeResource
from assets.reference_tables import reference_assets
from assets.registry import load_contracts
from assets.risk import group_rental_model as gr
from assets.risk.cloned_plates import CloneRules, detect_clones
from assets.risk.evaluation import EvaluationConfig, risk_evaluation
from assets.risk.flat_features import features_in
from assets.risk.risk_assets import risk_assets
from citysim.config import RunConfig
from citysim.generate import generate
from tests.ingest_support import table

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 11, 16)
RISK_SYSTEMS = (
    "flats", "registered_occupants", "meter_readings_water", "meter_readings_power",
    "meter_readings_gas", "door_access_events", "delivery_orders", "hotline_12345",
    "group_rental_inspections", "anpr_cameras", "anpr_reads", "vehicle_register",
)  # fmt: skip


def bronze(con: duckdb.DuckDBPyConnection, **frames: pd.DataFrame) -> None:
    """Tables `bronze.<name>` from data frames."""
    con.execute("CREATE SCHEMA IF NOT EXISTS bronze")
    for name, frame in frames.items():
        con.register("frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE bronze.{name} AS SELECT * FROM frame")
        con.unregister("frame")


def local(hour: float, day: date = DAY) -> datetime:
    """A Shanghai time on `day`, `hour` hours after midnight."""
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(hours=hour)


# --- group-rental features ----------------------------------------------------------------


def power_readings(flat: str, per_hour: float, drop_at: int | None = None) -> pd.DataFrame:
    """A day of hourly cumulative readings using `per_hour`; a meter replaced (flagged) at 10:00,
    optionally an unflagged drop at `drop_at`, and the 20:00 reading missing."""
    rows, register = [], 1000.0
    for hour in range(25):
        if hour > 0:
            register += per_hour
        if hour == 10:
            register = per_hour  # replaced at 09:00 + the hour since: the flag says so
        if hour == drop_at:
            register -= 5 * per_hour  # a register that falls without the flag
        if hour != 20:
            rows.append((flat, f"PM{flat}", local(hour), register, hour == 10))
    frame = pd.DataFrame(rows, columns=["flat_id", "meter_id", "read_at", "reading", "reset_flag"])
    return frame.assign(event_date=DAY)


def empty_city(flats: pd.DataFrame, power: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The inputs of the feature query: `flats` and their power readings, nothing else."""
    meters = power.iloc[:0]
    return {
        "flats": flats,
        "meter_readings_power": power,
        "meter_readings_water": meters,
        "meter_readings_gas": meters,
        "door_access_events": pd.DataFrame(
            {"event_id": ["E1"], "flat_id": ["F0"], "card_id": ["C1"], "direction": ["in"]}
        ).assign(event_date=DAY),
        "delivery_orders": pd.DataFrame(
            {"order_id": ["O1"], "flat_id": [None], "address": ["A0"]}
        ).assign(event_date=DAY),
        "hotline_12345": pd.DataFrame(
            {
                "service_request_id": ["H1", "H2"],
                "service_code": ["hotline.group_rental_complaint", "hotline.noise"],
                "address": ["A0", "A0"],
                "requested_datetime": [local(12), local(13)],
            }
        ),
        "group_rental_inspections": pd.DataFrame(
            {
                "inspection_id": ["I1", "I2"],
                "flat_id": ["F0", "F0"],
                "outcome": ["not_confirmed", "confirmed"],
                "inspected_at": [local(-240), local(-24)],
            }
        ),
    }


def flats_frame(n: int, registered: int = 1) -> pd.DataFrame:
    """`n` flats of one building type in one committee."""
    return pd.DataFrame(
        {
            "flat_id": [f"F{i}" for i in range(n)],
            "address": [f"A{i}" for i in range(n)],
            "street_code": "ST01",
            "committee_code": "ST01-C01",
            "grid_cell": "G00001",
            "building_type": "mid_rise",
            "registered_occupants": registered,
        }
    )


def test_meter_use_is_per_hour_covered_through_resets_drops_and_gaps() -> None:
    """24/day whatever the meter does: a flagged reset counts, an unflagged drop and a missing
    reading only shorten what is covered. Night use 00-06 is 6 of the 23 hours counted."""
    flats = flats_frame(1, registered=2)
    with duckdb.connect() as con:
        bronze(con, **empty_city(flats, power_readings("F0", 1.0, drop_at=15)))
        row = features_in(con, DAY, 1).to_pylist()[0]
    assert row["power_per_day"] == pytest.approx(24.0)
    assert row["power_pp"] == pytest.approx(12.0)
    assert row["night_share"] == pytest.approx(6 / 23)
    assert row["water_per_day"] is None  # no readings: unknown, not zero
    assert row["complaints"] == 1  # the noise complaint at the same address is not counted
    assert row["distinct_cards"] == 1 and row["deliveries_pp"] == pytest.approx(0.5)
    assert row["last_outcome"] == "confirmed"  # the latest inspection


def test_a_flat_is_compared_with_its_peers() -> None:
    """25 flats at 24/day and one at 96/day: its peers' median is 24, its ratio 4."""
    flats = flats_frame(26)
    power = pd.concat(
        [power_readings(f"F{i}", 4.0 if i == 25 else 1.0) for i in range(26)], ignore_index=True
    )
    with duckdb.connect() as con:
        bronze(con, **empty_city(flats, power))
        rows = features_in(con, DAY, 1).to_pandas().set_index("flat_id")
    assert rows.loc["F25", "power_pp_peer"] == pytest.approx(24.0)
    assert rows.loc["F25", "power_pp"] / rows.loc["F25", "power_pp_peer"] == pytest.approx(4.0)


# --- the group-rental model ---------------------------------------------------------------


def synthetic_features(rng: np.random.Generator, normal: int, crowded: int) -> pd.DataFrame:
    """Feature rows: ordinary flats around their peers, crowded ones far above them; a tenth
    of the ordinary flats stand empty (far below their peers)."""
    n = normal + crowded
    crowd = np.arange(n) >= normal
    empty = (np.arange(n) % 10 == 0) & ~crowd
    use = np.where(crowd, rng.uniform(2.5, 5, n), np.where(empty, 0.05, rng.lognormal(0, 0.2, n)))
    registered = rng.integers(1, 4, n)
    return pd.DataFrame(
        {
            "flat_id": [f"F{i:05d}" for i in range(n)],
            "street_code": "ST01",
            "committee_code": "ST01-C01",
            "grid_cell": "G00001",
            "registered": registered,
            **{f"{u}_pp": use * rng.lognormal(0, 0.1, n) for u in ("power", "water", "gas")},
            **{f"{u}_pp_peer": np.ones(n) for u in ("power", "water", "gas")},
            "night_share": np.where(crowd, 0.3, 0.14),
            "night_share_peer": 0.14,
            "weekend_ratio": 1.05,
            "growth": 1.0,
            "distinct_cards": np.where(crowd, registered + rng.integers(5, 15, n), registered),
            "entries_pp": np.where(crowd, 6.0, 1.4),
            "entries_pp_peer": 1.4,
            "deliveries_pp": np.where(crowd, 0.5, 0.1),
            "deliveries_pp_peer": 0.1,
            "complaints": 0,
            "last_outcome": None,
        }
    )


def test_unsupervised_scores_put_crowded_flats_first_and_empty_flats_last() -> None:
    frame = synthetic_features(np.random.default_rng(3), normal=2000, crowded=20)
    model = gr.fit(frame)
    scores = gr.score(frame, model).set_index("flat_id")
    assert model.mode == "unsupervised" and scores["probability"].isna().all()
    crowded = frame["flat_id"].iloc[2000:]
    ranks = scores.loc[crowded, "rank"]
    assert (ranks <= 20).sum() >= 18 and ranks.max() <= 25  # an anomaly score, not a classifier
    assert sorted(scores["rank"]) == list(range(1, 2021))
    empty = frame["flat_id"].iloc[:2000:10]
    assert scores.loc[empty, "rank"].min() > 100  # using less than the peers is not a sign
    reasons = scores.loc[crowded[2000], "reasons"]
    assert len(reasons) == 3 and any("张不同卡" in r for r in reasons)


def test_inspection_outcomes_train_a_calibrated_model() -> None:
    rng = np.random.default_rng(4)
    frame = synthetic_features(rng, normal=2000, crowded=40)
    frame.loc[2000:2019, "last_outcome"] = gr.POSITIVE
    frame.loc[0:59, "last_outcome"] = gr.NEGATIVE
    model = gr.fit(frame)
    scores = gr.score(frame, model)
    assert model.mode == "supervised" and model.metrics["labelled_flats"] == 80
    assert model.metrics["cv_roc_auc"] > 0.95
    assert scores["probability"].between(0, 1).all()
    unseen = scores[scores["flat_id"].isin(frame["flat_id"].iloc[2020:])]
    assert (unseen["rank"] <= 40).all()  # crowded flats never inspected still come first
    assert unseen["probability"].min() > scores["probability"].median()


def test_the_fewest_labels_that_train_a_model_are_enough() -> None:
    """Five confirmed flats: five folds of metrics, each with its own calibration folds."""
    frame = synthetic_features(np.random.default_rng(6), normal=500, crowded=10)
    frame.loc[500:504, "last_outcome"] = gr.POSITIVE
    frame.loc[0:30, "last_outcome"] = gr.NEGATIVE
    model = gr.fit(frame)
    assert model.mode == "supervised" and model.metrics["confirmed"] == 5


def test_too_few_labels_stay_unsupervised() -> None:
    frame = synthetic_features(np.random.default_rng(5), normal=500, crowded=10)
    frame.loc[500:502, "last_outcome"] = gr.POSITIVE
    frame.loc[0:20, "last_outcome"] = gr.NEGATIVE
    assert gr.fit(frame).mode == "unsupervised"


# --- cloned plates ------------------------------------------------------------------------

CAMERAS = pd.DataFrame(
    {
        "camera_id": ["K1", "K2", "K3", "K4"],
        "lon": [121.50, 121.80, 121.5005, 121.52],  # K3 is 50 m from K1, K4 2 km; K2 31 km
        "lat": [31.20, 31.10, 31.20, 31.20],
        "street_code": ["ST01", "ST30", "ST01", "ST01"],
    }
)
REGISTER = pd.DataFrame(
    {
        "plate": ["沪A12345", "沪B77777", "沪C88888", "沪D11111", "沪E22222", "沪F33333"],
        "vehicle_make": ["大众", "丰田", "本田", "别克", "日产", "奥迪"],
        "vehicle_colour": ["白", "黑", "银", "白", "红", "黑"],
    }
)


def reads(*rows: tuple) -> pd.DataFrame:
    """Reads from (plate, camera, hour, confidence, make, colour)."""
    frame = pd.DataFrame(
        rows, columns=["plate", "camera_id", "hour", "confidence", "vehicle_make", "vehicle_colour"]
    )
    return frame.assign(
        read_id=[f"R{i}" for i in range(len(frame))],
        read_at=[local(h) for h in frame.pop("hour")],
        event_date=DAY,
    )


def suspects_of(frame: pd.DataFrame, rules: CloneRules | None = None) -> pd.DataFrame:
    with duckdb.connect() as con:
        bronze(con, anpr_reads=frame, anpr_cameras=CAMERAS, vehicle_register=REGISTER)
        return detect_clones(con, DAY, DAY, rules or CloneRules()).to_pandas().set_index("plate")


def test_impossible_travel_twice_makes_a_suspect_with_its_evidence() -> None:
    found = suspects_of(
        reads(
            ("沪A12345", "K1", 8.0, 0.9, "大众", "白"),
            ("沪A12345", "K2", 8.1, 0.9, "大众", "白"),  # 31 km in 6 minutes
            ("沪A12345", "K1", 8.2, 0.9, "大众", "白"),
            ("沪B77777", "K1", 9.0, 0.9, "丰田", "黑"),  # 31 km in an hour: a car can
            ("沪B77777", "K2", 10.0, 0.9, "丰田", "黑"),
            ("沪C88888", "K1", 11.0, 0.9, "本田", "银"),  # two cameras 50 m apart at once
            ("沪C88888", "K3", 11.0, 0.9, "本田", "银"),
        )
    )
    assert list(found.index) == ["沪A12345"]
    evidence = found.loc["沪A12345", "evidence"]
    assert found.loc["沪A12345", "confident_conflicts"] == 2 and len(evidence) == 2
    assert {evidence[0]["camera_a"], evidence[0]["camera_b"]} == {"K1", "K2"}
    assert evidence[0]["distance_km"] == pytest.approx(30.6, abs=0.3)
    assert evidence[0]["implied_kmh"] == pytest.approx(evidence[0]["distance_km"] / 0.1, abs=1)


def test_one_conflict_needs_reads_the_register_does_not_describe() -> None:
    trips = [
        ("沪D11111", "K1", 8.0, 0.9, "别克", "白"),
        ("沪D11111", "K2", 8.1, 0.9, "丰田", "白"),  # one conflict, the far car a Toyota
        ("沪D11111", "K2", 9.0, 0.9, "丰田", "白"),
        ("沪E22222", "K1", 8.0, 0.9, "日产", "红"),
        ("沪E22222", "K2", 8.1, 0.9, "日产", "红"),  # one conflict, the same car as registered
    ]
    found = suspects_of(reads(*trips))
    assert list(found.index) == ["沪D11111"]
    assert found.loc["沪D11111", "mismatched_reads"] == 2
    assert sorted(found.loc["沪D11111", "seen_as"]) == ["丰田/白", "别克/白"]


def test_low_confidence_reads_are_no_evidence() -> None:
    found = suspects_of(
        reads(
            ("沪F33333", "K1", 8.0, 0.9, "奥迪", "黑"),
            ("沪F33333", "K2", 8.1, 0.55, "本田", "银"),  # a poor read far away, twice
            ("沪F33333", "K1", 8.2, 0.9, "奥迪", "黑"),
            ("沪F33333", "K2", 9.1, 0.55, "本田", "银"),
            ("沪F33333", "K1", 9.2, 0.9, "奥迪", "黑"),
        )
    )
    assert found.empty


def test_a_misread_plate_is_given_back_to_the_registered_one() -> None:
    """沪A1234S is on no register; set aside S/5 it is 沪A12345, whose reads it then joins."""
    found = suspects_of(
        reads(
            ("沪A12345", "K1", 8.0, 0.9, "大众", "白"),
            ("沪A1234S", "K2", 8.1, 0.9, "大众", "白"),
            ("沪A12345", "K1", 8.2, 0.9, "大众", "白"),
        )
    )
    assert list(found.index) == ["沪A12345"]
    assert found.loc["沪A12345", "repaired_reads"] == 1


def test_camera_geometry_sets_the_threshold() -> None:
    """Two cameras 2 km apart, 1 minute: 120 km/h, possible; with a 60 km/h limit, not."""
    trips = reads(
        ("沪B77777", "K1", 8.0, 0.9, "丰田", "黑"),
        ("沪B77777", "K4", 8.0 + 3 / 60, 0.9, "丰田", "黑"),
        ("沪B77777", "K1", 8.0 + 6 / 60, 0.9, "丰田", "黑"),
    )
    assert suspects_of(trips).empty
    slow_roads = CloneRules(max_speed_kmh=20.0, clock_skew_s=0.0)
    assert list(suspects_of(trips, slow_roads).index) == ["沪B77777"]


# --- the assets on a simulated city -------------------------------------------------------


@pytest.fixture(scope="module")
def risk_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[LakeResource, Path, dict]:
    """A 3-day city at scale 0.01 (the systems the risk models read), ingested."""
    root = tmp_path_factory.mktemp("risk") / "lake"
    cfg = RunConfig(
        scale=0.01, days=3, seed=11, dirt_rate=0.01, out=root / "landing",
        truth_out=root.parent / "truth", only=RISK_SYSTEMS,
    )  # fmt: skip
    summary = generate(cfg, progress=False)
    lake = LakeResource(root=str(root))
    assert dg.materialize(reference_assets, resources={"lake": lake}).success
    for contract in load_contracts():
        if contract.id in RISK_SYSTEMS:
            ingest_landing(contract, lake, "risk")
    return lake, root.parent / "truth", summary


def test_risk_assets_find_the_planted_cases_and_feed_dispatch(risk_city) -> None:
    lake, truth, _ = risk_city
    last = (DAY + timedelta(days=2)).isoformat()
    result = dg.materialize(
        [*risk_assets, risk_evaluation, city_model],
        partition_key=last,
        resources={"lake": lake, "dbt": dbt_resource()},
        run_config={"ops": {"risk__evaluation": {"config": {"truth_dir": str(truth)}}}},
    )
    assert result.success
    scores = table(lake, "risk", "group_rental_scores").to_pandas()
    flats = table(lake, "bronze", "flats").num_rows
    assert len(scores) == flats and sorted(scores["rank"]) == list(range(1, flats + 1))
    k = int(scores["in_capacity"].sum())
    assert scores["reasons"].map(len).loc[scores["in_capacity"]].min() >= 1
    card = Path(lake.uri("risk", "models", "group_rental", scores["model_version"].iloc[0]))
    assert json.loads((card / "model_card.json").read_text())["inspection_capacity"] == k

    figures = table(lake, "risk", "evaluation").to_pandas().set_index(["model", "metric"])
    assert figures["passed"].dropna().all(), figures
    assert figures.loc[("cloned_plate", "planted"), "value"] >= 5

    suspects = table(lake, "risk", "cloned_plate_suspects").num_rows
    with duckdb.connect(str(warehouse_path(lake)), read_only=True) as db:
        sent = dict(
            db.sql(
                "SELECT event_type, count(*) FROM marts.mart_dispatch_recommendation "
                "WHERE event_type LIKE 'risk.%' GROUP BY 1"
            ).fetchall()
        )
    assert sent == {"risk.group_rental": k, "risk.cloned_plate": suspects}


def test_evaluation_without_truth_fails_saying_so(risk_city, tmp_path) -> None:
    lake, _, _ = risk_city
    with pytest.raises(dg.Failure, match="no simulator truth"):
        dg.materialize(
            [risk_evaluation],
            partition_key=(DAY + timedelta(days=2)).isoformat(),
            resources={"lake": lake},
            run_config={"ops": {"risk__evaluation": {"config": {"truth_dir": str(tmp_path)}}}},
        )
    assert EvaluationConfig().truth_dir  # a default exists: $CITYBRAIN_TRUTH or ./truth
