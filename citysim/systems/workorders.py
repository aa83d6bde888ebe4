"""Work orders with a lifecycle: the 12345 hotline (Open311 JSON) and grid inspection cases.

Each export carries the state changes that happened since the previous one; changes that fall
after the day are carried to the day they happen (and never exported if the run ends first).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from citysim.batch import Batch, Day, hourly, ids, incidents
from citysim.config import DAILY_EVENTS
from citysim.identity import names, phones
from citysim.timeline import NIGHT_PROFILE, clustered_events, day_start

NOISE = [
    "noise.construction", "noise.renovation", "noise.dog_night", "noise.neighbour",
    "noise.shop_loudspeaker", "noise.entertainment_venue", "noise.industrial",
    "noise.road_traffic", "noise.vehicle_modified", "noise.square_dance", "noise.metro",
    "noise.ship_horn", "noise.school_broadcast",
]  # fmt: skip
DAYTIME_TYPES = {
    "hotline.consultation": 0.22, "hotline.move_car": 0.10, "hotline.property_service": 0.10,
    "hotline.hotel_complaint": 0.02, "grid.garbage_overflow": 0.08, "grid.illegal_parking": 0.10,
    "grid.street_vending": 0.05, "grid.bike_disorder": 0.06, "grid.road_damage": 0.05,
    "grid.construction_dust": 0.03, "grid.illegal_dumping": 0.03, "noise.construction": 0.04,
    "noise.renovation": 0.04, "noise.shop_loudspeaker": 0.02, "noise.square_dance": 0.02,
    "noise.road_traffic": 0.01, "noise.metro": 0.005, "noise.ship_horn": 0.005,
    "noise.school_broadcast": 0.005, "noise.industrial": 0.005,
}  # fmt: skip
NIGHT_TYPES = {
    "noise.dog_night": 0.3,
    "noise.neighbour": 0.3,
    "noise.entertainment_venue": 0.2,
    "noise.vehicle_modified": 0.2,
}
NIGHT_SHARE = 0.12
GRID_TYPES = {
    "grid.garbage_overflow": 0.25, "grid.illegal_parking": 0.2, "grid.street_vending": 0.12,
    "grid.bike_disorder": 0.12, "grid.road_damage": 0.08, "grid.river_debris": 0.08,
    "grid.construction_dust": 0.06, "grid.illegal_dumping": 0.06, "noise.construction": 0.03,
}  # fmt: skip
LIFECYCLE = ["dispatched", "accepted", "handled", "closed"]
FAST = {"hotline.move_car", *NIGHT_TYPES}  # respond within 5 minutes


def pick(rng: np.random.Generator, mix: dict[str, float], n: int) -> np.ndarray:
    """n codes drawn from a {code: weight} mix."""
    w = np.array(list(mix.values()))
    return rng.choice(list(mix), n, p=w / w.sum())


def lifecycle(
    rng: np.random.Generator, orders: pd.DataFrame, steps: dict[str, float]
) -> pd.DataFrame:
    """One row per state change of each order: (order row, state, time)."""
    rows = [orders.assign(state="received", changed_at=orders["at"])]
    current = orders["at"]
    fast = orders["event_type"].isin(FAST).to_numpy()
    for state, mean in steps.items():
        mean_min = np.where(fast & (state == LIFECYCLE[0]), 3, mean)
        current = current + pd.to_timedelta(
            (rng.lognormal(np.log(mean_min) - 0.3, 0.7) * 60).astype(int), "s"
        )
        rows.append(orders.assign(state=state, changed_at=current))
    return pd.concat(rows, ignore_index=True)


def due_today(day: Day, changes: pd.DataFrame) -> pd.DataFrame:
    """Changes of today, with the rest carried to later days."""
    pending = day.carry.get("pending")
    if pending is not None:
        changes = pd.concat([pending, changes], ignore_index=True)
    end = day_start(day.day) + pd.Timedelta(days=1)
    day.carry["pending"] = changes[changes["changed_at"] >= end]
    return changes[changes["changed_at"] < end].sort_values("changed_at", kind="stable")


def hotline_orders(day: Day) -> pd.DataFrame:
    """Today's new hotline orders, including complaints about group rentals."""
    rng, world = day.rng, day.world
    mean = day.mean(DAILY_EVENTS["hotline_12345"])
    day_ev = clustered_events(rng, world.geo, day.day, mean * (1 - NIGHT_SHARE))
    day_ev["event_type"] = pick(rng, DAYTIME_TYPES, len(day_ev))
    night_ev = clustered_events(rng, world.geo, day.day, mean * NIGHT_SHARE, NIGHT_PROFILE)
    night_ev["event_type"] = pick(rng, NIGHT_TYPES, len(night_ev))
    flats = world.flats
    # A complaining group rental is reported on some day of the run; neighbours also report
    # ordinary flats now and then (false alarms).
    complainers = flats[
        flats["complains"].to_numpy() & (rng.random(len(flats)) < 1 / max(day.cfg.days, 1))
    ]
    false_alarm = flats[rng.random(len(flats)) < 0.00004]
    accused = pd.concat([complainers, false_alarm])
    acc = pd.DataFrame(
        {
            "at": day_start(day.day)
            + pd.to_timedelta(rng.integers(8 * 3600, 22 * 3600, len(accused)), "s"),
            "street_code": accused["street_code"].to_numpy(),
            "committee_code": accused["committee_code"].to_numpy(),
            "grid_cell": accused["grid_cell"].to_numpy(),
            "lon": accused["lon"].to_numpy(),
            "lat": accused["lat"].to_numpy(),
            "event_type": "hotline.group_rental_complaint",
            "address": accused["address"].to_numpy(),
        }
    )
    orders = pd.concat([day_ev, night_ev, acc], ignore_index=True).sort_values("at", kind="stable")
    orders = orders.reset_index(drop=True)
    missing = orders["address"].isna() if "address" in orders else np.ones(len(orders), bool)
    orders["address"] = np.where(
        missing, [f"浦东新区{g}网格附近" for g in orders["grid_cell"]], orders.get("address")
    )
    orders["record_id"] = ids("H", day, 5, len(orders), 12)
    reported = orders["event_type"].to_numpy() == "hotline.group_rental_complaint"
    flat_of = dict(zip(accused["address"], accused["flat_id"], strict=False))
    day.truth.complaints.append(
        pd.DataFrame(
            {
                "flat_id": orders.loc[reported, "address"].map(flat_of).to_numpy(),
                "record_id": orders.loc[reported, "record_id"].to_numpy(),
                "reported_at": orders.loc[reported, "at"].to_numpy(),
            }
        )
    )
    return orders


def hotline_12345(day: Day) -> Iterator[Batch]:
    """12345: Open311 service requests, one export an hour of the orders that changed."""
    rng = day.rng
    orders = hotline_orders(day)
    day.truth.record(incidents(orders, "hotline_12345", orders["record_id"].tolist()))
    lead = {"noise.dog_night": "police", "hotline.move_car": "traffic_police"}
    n = len(orders)
    orders = orders.assign(
        contact_name=names(rng, n),
        contact_phone=phones(rng, n),
        rating=rng.choice([1, 2, 3, 4, 5], n, p=[0.04, 0.06, 0.15, 0.35, 0.4]),
        agency=[lead.get(t, "city_ops_centre") for t in orders["event_type"]],
    )
    changes = due_today(
        day,
        lifecycle(rng, orders, {"dispatched": 12, "accepted": 25, "handled": 300, "closed": 900}),
    )
    frame = pd.DataFrame(
        {
            "service_request_id": changes["record_id"],
            "status": changes["state"],
            "service_code": changes["event_type"],
            "service_name": changes["event_type"],
            "description": [f"市民反映：{a}存在问题，请处理。" for a in changes["address"]],
            "requested_datetime": changes["at"],
            "updated_datetime": changes["changed_at"],
            "address": changes["address"],
            "lat": changes["lat"],
            "long": changes["lon"],
            "street_code": changes["street_code"],
            "agency_responsible": np.where(changes["state"] == "received", None, changes["agency"]),
            "contact_name": changes["contact_name"],
            "contact_phone": changes["contact_phone"],
            "rating": np.where(changes["state"] == "closed", changes["rating"], None),
        }
    )
    path = f"hotline/hotline_12345/requests_{day.stamp}{{hour}}.json"
    yield from hourly("hotline_12345", frame, "updated_datetime", path)


def grid_cases(day: Day) -> Iterator[Batch]:
    """Grid inspection: cases inspectors report, exported every four hours with state changes."""
    rng = day.rng
    ev = clustered_events(rng, day.world.geo, day.day, day.mean(DAILY_EVENTS["grid_cases"]))
    ev["event_type"] = pick(rng, GRID_TYPES, len(ev))
    ev["record_id"] = ids("G", day, 6, len(ev), 12)
    ev["inspector_id"] = [f"W{i:05d}" for i in rng.integers(0, 4000, len(ev))]
    day.truth.record(incidents(ev, "grid_cases", ev["record_id"].tolist()))
    changes = due_today(day, lifecycle(rng, ev, {"dispatched": 15, "handled": 240, "closed": 120}))
    frame = pd.DataFrame(
        {
            "case_id": changes["record_id"],
            "reported_at": changes["at"],
            "case_type": changes["event_type"],
            "inspector_id": changes["inspector_id"],
            "street_code": changes["street_code"],
            "committee_code": changes["committee_code"],
            "grid_cell": changes["grid_cell"],
            "lon": changes["lon"],
            "lat": changes["lat"],
            "description": "巡查发现：" + changes["event_type"].astype(str),
            "status": changes["state"].replace({"received": "reported"}),
            "updated_at": changes["changed_at"],
        }
    )
    block = frame["updated_at"].dt.hour.to_numpy() // 4
    for b in range(6):
        part = frame[block == b]
        yield Batch(
            "grid_cases", f"city_ops_centre/grid_cases/grid_cases_{day.stamp}_{b * 4:02d}.csv", part
        )
