"""Shared bikes: six operators publish GBFS feeds (three in 2.3, three in 3.0).

station_information once a day, station_status every 30 minutes (commuter tides empty
residential zones in the morning and fill business ones), free_bike_status / vehicle_status
(bikes parked outside any zone) every two hours.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from citysim.batch import Batch, Day
from citysim.config import GBFS_VERSION, OPERATORS
from citysim.timeline import day_start


def snapshot_dir(op: str, at: pd.Timestamp) -> str:
    """Each snapshot lands in its own folder, named by its local time."""
    return f"bike_operators/{op}/{at:%Y%m%dT%H%M}"


def bike_station_information(day: Day) -> Iterator[Batch]:
    """Zones of each operator, published daily at 04:00."""
    at = day_start(day.day) + pd.Timedelta(hours=4)
    st = day.world.stations
    for op in OPERATORS:
        mine = st[st["operator"] == op]
        frame = pd.DataFrame(
            {
                "station_id": mine["station_id"],
                "name": mine["committee_code"] + "停放点" + mine["station_id"].str[-3:],
                "lat": mine["lat"],
                "lon": mine["lon"],
                "capacity": mine["capacity"],
            }
        )
        yield Batch(
            "bike_station_information",
            f"{snapshot_dir(op, at)}/station_information.json",
            frame,
            {"version": GBFS_VERSION[op], "last_updated": at},
        )


def tide(hour: float, commute: np.ndarray) -> np.ndarray:
    """Fill level of each zone: residential zones empty 7-10h, business zones fill then."""
    morning = np.exp(-((hour - 8.5) ** 2) / 3)
    evening = np.exp(-((hour - 18.5) ** 2) / 3)
    return np.clip(0.55 + commute * 0.4 * (morning - evening), 0.02, 1.0)


def bike_station_status(day: Day) -> Iterator[Batch]:
    """Status of every zone every 30 minutes."""
    rng, st = day.rng, day.world.stations
    cap = st["capacity"].to_numpy()
    for slot in range(48):
        at = day_start(day.day) + pd.Timedelta(minutes=30 * slot)
        level = tide(slot / 2, st["commute"].to_numpy()) * st["bikes_per_dock"].to_numpy()
        bikes = np.minimum(rng.binomial(cap, np.clip(level, 0, 1)), cap)
        reported = at - pd.to_timedelta(rng.integers(0, 300, len(st)), "s")
        for op in OPERATORS:
            m = (st["operator"] == op).to_numpy()
            frame = pd.DataFrame(
                {
                    "station_id": st["station_id"].to_numpy()[m],
                    "num_bikes_available": bikes[m],
                    "num_docks_available": cap[m] - bikes[m],
                    "is_renting": True,
                    "is_returning": True,
                    "last_reported": reported[m],
                }
            )
            yield Batch(
                "bike_station_status",
                f"{snapshot_dir(op, at)}/station_status.json",
                frame,
                {"version": GBFS_VERSION[op], "last_updated": at},
            )


def bike_vehicle_status(day: Day) -> Iterator[Batch]:
    """Bikes parked outside the zones, every two hours.

    GBFS 2.3 calls the feed free_bike_status, 3.0 vehicle_status."""
    rng, st = day.rng, day.world.stations
    n_free = max(10, int(len(st) * 1.5))
    for slot in range(12):
        at = day_start(day.day) + pd.Timedelta(hours=2 * slot)
        near = rng.integers(0, len(st), n_free)
        for op in OPERATORS:
            m = st["operator"].to_numpy()[near] == op
            k = int(m.sum())
            frame = pd.DataFrame(
                {
                    "vehicle_id": [f"{op[:2]}{x:08x}" for x in rng.integers(0, 2**32, k)],
                    "lat": (st["lat"].to_numpy()[near[m]] + rng.normal(0, 0.002, k)).round(6),
                    "lon": (st["lon"].to_numpy()[near[m]] + rng.normal(0, 0.002, k)).round(6),
                    "is_reserved": rng.random(k) < 0.02,
                    "is_disabled": rng.random(k) < 0.05,
                }
            )
            name = "free_bike_status" if GBFS_VERSION[op] == "2.3" else "vehicle_status"
            yield Batch(
                "bike_vehicle_status",
                f"{snapshot_dir(op, at)}/{name}.json",
                frame,
                {"version": GBFS_VERSION[op], "last_updated": at},
            )
