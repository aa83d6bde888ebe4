"""Homes: the resident register (flats, occupants), smart meters, door access, food delivery,
and group-rental inspection outcomes.

A group rental houses 6-20 people where 1-3 are registered: its water, power and gas, its night
use, its door entries (many distinct cards) and its deliveries follow the people, not the register.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from citysim.batch import Batch, Day, ids
from citysim.config import DELIVERIES_PER_FLAT, DOOR_EVENTS_PER_PERSON
from citysim.timeline import DAY_PROFILE, day_start

# Use per person per day, and per flat per day regardless of people.
METERS = {
    "water": {"per_person": 0.13, "base": 0.05, "slots": 4, "prefix": "WM", "start": 0},
    "power": {"per_person": 2.6, "base": 2.0, "slots": 24, "prefix": "PM", "start": 0},
    "gas": {"per_person": 0.28, "base": 0.05, "slots": 4, "prefix": "GM", "start": 0},
}
FLAGGED_RESET_RATE = 0.0005  # meters replaced per day
UNFLAGGED_RESET_RATE = 0.0003  # dirt: a register that drops without the flag
MISSING_READING_RATE = 0.005


def chunks(day: Day, frame: pd.DataFrame, rows_per_item: int = 1) -> Iterator[pd.DataFrame]:
    """Bounded slices of an entity table, so that memory does not grow with the city."""
    step = max(1, day.cfg.chunk_rows // rows_per_item)
    for start in range(0, len(frame), step):
        yield frame.iloc[start : start + step]


def flats(day: Day) -> Iterator[Batch]:
    """The flats register: all flats on the first day, changed ones after."""
    f = day.world.flats
    start = day_start(day.day)
    changed = np.ones(len(f), bool) if day.index == 0 else day.rng.random(len(f)) < 0.002
    path = f"police/flats/flats_{day.stamp}.csv"
    for part in chunks(day, f[changed]):
        yield Batch(
            "flats",
            path,
            pd.DataFrame(
                {
                    "flat_id": part["flat_id"],
                    "address": part["address"],
                    "building_id": part["building_id"],
                    "building_type": part["building_type"],
                    "street_code": part["street_code"],
                    "committee_code": part["committee_code"],
                    "grid_cell": part["grid_cell"],
                    "lon": part["lon"],
                    "lat": part["lat"],
                    "floor_area_m2": part["floor_area_m2"],
                    "registered_occupants": part["registered_occupants"],
                    "updated_at": start + pd.Timedelta(hours=2),
                }
            ),
        )


def registered_occupants(day: Day) -> Iterator[Batch]:
    """People on the register: everyone on the first day, moves after."""
    p = day.world.people
    start = day_start(day.day)
    moved = day.rng.random(len(p)) < 0.0005
    rows = p if day.index == 0 else p[moved]
    for part in chunks(day, rows):
        yield Batch(
            "registered_occupants",
            f"police/occupants/occupants_{day.stamp}.csv",
            pd.DataFrame(
                {
                    "person_id": part["person_id"],
                    "flat_id": part["flat_id"],
                    "name": part["name"],
                    "id_number": part["id_number"],
                    "phone": part["phone"],
                    "gender": part["gender"],
                    "status": "resident" if day.index == 0 else "moved_out",
                    "registered_at": start - pd.to_timedelta(part["registered_days_ago"], "D"),
                    "updated_at": start + pd.Timedelta(hours=3),
                }
            ),
        )


def slot_shares(slots: int, night_share: np.ndarray) -> np.ndarray:
    """(flats, slots) share of a day's use per slot; slots before 06:00 take the night share."""
    hours = np.arange(slots) * (24 // slots)
    night = hours < 6
    day_w = np.where(night, 0.0, DAY_PROFILE.reshape(slots, -1).sum(axis=1))
    day_w = day_w / day_w.sum()
    night_w = night / night.sum()
    return night_share[:, None] * night_w + (1 - night_share[:, None]) * day_w


def meter_readings(day: Day, utility: str) -> Iterator[Batch]:
    """Cumulative readings of one utility's meters; the register carries over between days."""
    spec = METERS[utility]
    slots = spec["slots"]
    f = day.world.flats
    rng = day.rng
    if "register" not in day.carry:
        day.carry["register"] = np.random.default_rng([day.cfg.seed, 11]).uniform(0, 3000, len(f))
    register = day.carry["register"]
    times = day_start(day.day) + pd.to_timedelta(np.arange(1, slots + 1) * (24 // slots), "h")
    weekend = 1.1 if day.day.weekday() >= 5 else 1.0
    ext = "parquet" if utility == "power" else "csv"
    path = f"{utility}_company/meter_readings/{utility}_readings_{day.stamp}.{ext}"
    for part in chunks(day, f, slots):
        idx = part.index.to_numpy()
        n = len(part)
        use = (
            (spec["per_person"] * part["actual_occupants"].to_numpy() + spec["base"])
            * part["usage_factor"].to_numpy()
            * weekend
            * rng.lognormal(0, 0.15, n)
        )
        step = use[:, None] * slot_shares(slots, part["night_share"].to_numpy())
        cumulative = register[idx, None] + np.cumsum(step, axis=1)
        flagged = rng.random((n, slots)) < FLAGGED_RESET_RATE / slots
        unflagged = rng.random((n, slots)) < UNFLAGGED_RESET_RATE / slots
        for mask in (flagged, unflagged):  # from a reset on, the register restarts near zero
            rows, cols = np.nonzero(mask)
            for r, c in zip(rows, cols, strict=True):
                cumulative[r, c:] -= cumulative[r, c] - step[r, c]
        register[idx] = cumulative[:, -1]
        frame = pd.DataFrame(
            {
                "meter_id": np.repeat([f"{spec['prefix']}{i:08d}" for i in idx], slots),
                "flat_id": np.repeat(part["flat_id"].to_numpy(), slots),
                "read_at": np.tile(times, n),
                "reading": cumulative.ravel().round(3),
                "reset_flag": flagged.ravel(),
                "quality_code": np.where(rng.random(n * slots) < 0.02, "estimated", "measured"),
            }
        )
        frame = frame[rng.random(len(frame)) >= MISSING_READING_RATE]
        day.truth.dirt[f"meter_readings_{utility}", "meter_reset_unflagged"] += int(unflagged.sum())
        yield Batch(f"meter_readings_{utility}", path, frame)


def meter_readings_water(day: Day) -> Iterator[Batch]:
    """Water company: readings every six hours, CSV in GB18030."""
    yield from meter_readings(day, "water")


def meter_readings_power(day: Day) -> Iterator[Batch]:
    """Power company: hourly readings, Parquet."""
    yield from meter_readings(day, "power")


def meter_readings_gas(day: Day) -> Iterator[Batch]:
    """Gas company: readings every six hours, CSV."""
    yield from meter_readings(day, "gas")


def door_access_events(day: Day) -> Iterator[Batch]:
    """Door access: each person in and out a few times a day with their own card."""
    rng = day.rng
    path = f"property/door_access/access_{day.stamp}.jsonl"
    counter = day.carry.get("counter", 0)
    for part in chunks(day, day.world.flats, 6):
        people = part["actual_occupants"].to_numpy()
        n_ev = rng.poisson(people * DOOR_EVENTS_PER_PERSON * part["usage_factor"].to_numpy())
        flat_pos = np.repeat(np.arange(len(part)), n_ev)
        person = (rng.random(len(flat_pos)) * np.maximum(people[flat_pos], 1)).astype(int)
        flat_idx = part.index.to_numpy()[flat_pos]
        at = day_start(day.day) + pd.to_timedelta(
            rng.choice(24, len(flat_pos), p=DAY_PROFILE) * 3600
            + rng.integers(0, 3600, len(flat_pos)),
            "s",
        )
        n = len(flat_pos)
        yield Batch(
            "door_access_events",
            path,
            pd.DataFrame(
                {
                    "event_id": [
                        f"E{(day.index * 100 + 8) * 10**7 + counter + i:012d}" for i in range(n)
                    ],
                    "event_at": at,
                    "flat_id": part["flat_id"].to_numpy()[flat_pos],
                    "card_id": [
                        f"C{f * 32 + p:09d}" for f, p in zip(flat_idx, person, strict=True)
                    ],
                    "gate_id": part["building_id"].to_numpy()[flat_pos] + "-G1",
                    "direction": np.where(rng.random(n) < 0.5, "in", "out"),
                    "method": rng.choice(
                        ["card", "face", "app", "password"], n, p=[0.5, 0.35, 0.1, 0.05]
                    ),
                }
            ).sort_values("event_at", kind="stable"),
        )
        counter += n
    day.carry["counter"] = counter


def delivery_orders(day: Day) -> Iterator[Batch]:
    """Food delivery: orders grow with the people in a flat; most addresses match a flat."""
    rng = day.rng
    counter = day.carry.get("counter", 0)
    path = f"delivery_platform/orders/orders_{day.stamp}.csv"
    for part in chunks(day, day.world.flats):
        people = part["actual_occupants"].to_numpy()
        rate = DELIVERIES_PER_FLAT * np.power(np.maximum(people, 0.5) / 2.3, 0.9)
        n_ord = rng.poisson(rate)
        pos = np.repeat(np.arange(len(part)), n_ord)
        n = len(pos)
        at = day_start(day.day) + pd.to_timedelta(
            rng.choice(24, n, p=DAY_PROFILE) * 3600 + rng.integers(0, 3600, n), "s"
        )
        matched = rng.random(n) < 0.92
        yield Batch(
            "delivery_orders",
            path,
            pd.DataFrame(
                {
                    "order_id": [
                        f"O{(day.index * 100 + 9) * 10**9 + counter + i:014d}" for i in range(n)
                    ],
                    "ordered_at": at,
                    "delivered_at": at + pd.to_timedelta(rng.integers(15 * 60, 60 * 60, n), "s"),
                    "flat_id": np.where(matched, part["flat_id"].to_numpy()[pos], None),
                    "address": part["address"].to_numpy()[pos],
                    "customer_phone": [f"1{x:010d}" for x in rng.integers(3 * 10**9, 9 * 10**9, n)],
                    "items": rng.integers(1, 6, n),
                    "amount_yuan": rng.uniform(15, 120, n).round(2),
                }
            ).sort_values("ordered_at", kind="stable"),
        )
        counter += n
    day.carry["counter"] = counter


def group_rental_inspections(day: Day) -> Iterator[Batch]:
    """Inspection outcomes: the past year's history on the first day, daily patrols after."""
    rng = day.rng
    f = day.world.flats
    start = day_start(day.day)
    group = f["is_group_rental"].to_numpy()
    if day.index == 0:  # history: some group rentals and many innocent flats were inspected
        chosen = (group & (rng.random(len(f)) < 0.2)) | (~group & (rng.random(len(f)) < 0.004))
        when = start - pd.to_timedelta(rng.integers(10, 365, int(chosen.sum())), "D")
        trigger = rng.choice(["complaint", "patrol"], int(chosen.sum()), p=[0.6, 0.4])
    else:
        chosen = rng.random(len(f)) < 0.0003
        when = start + pd.to_timedelta(rng.integers(9 * 3600, 17 * 3600, int(chosen.sum())), "s")
        trigger = np.full(int(chosen.sum()), "patrol")
    sel = f[chosen]
    gr = sel["is_group_rental"].to_numpy()
    no_access = rng.random(len(sel)) < 0.08
    outcome = np.where(no_access, "no_access", np.where(gr, "confirmed", "not_confirmed"))
    frame = pd.DataFrame(
        {
            "inspection_id": ids("I", day, 10, len(sel), 10),
            "flat_id": sel["flat_id"].to_numpy(),
            "inspected_at": when,
            "trigger": trigger,
            "outcome": outcome,
            "occupants_found": np.where(no_access, None, sel["actual_occupants"].to_numpy()),
            "inspector_id": [f"W{i:05d}" for i in rng.integers(0, 4000, len(sel))],
        }
    ).sort_values("inspected_at", kind="stable")
    yield Batch(
        "group_rental_inspections",
        f"city_mgmt/group_rental_inspections/inspections_{day.stamp}.csv",
        frame,
    )
