"""110 police alarms, 119 fire calls, 120 ambulance dispatches and metro faults."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from citysim.batch import Batch, Day, ids, incidents
from citysim.config import DAILY_EVENTS
from citysim.identity import names, phones
from citysim.timeline import clustered_events, day_start, minutes

ALARM_TYPES = ["alarm.theft", "alarm.fight", "alarm.fraud", "alarm.traffic_accident", "alarm.other"]
ALARM_MIX = [0.22, 0.18, 0.12, 0.28, 0.20]
FIRE_TYPES = ["fire.building", "fire.vehicle", "fire.rescue", "fire.other"]
HOSPITALS = ["东方医院", "仁济医院东院", "浦东医院", "公利医院", "第七人民医院", "周浦医院"]
COMPLAINTS = ["胸痛", "呼吸困难", "腹痛", "昏迷", "外伤出血", "高热", "骨折"]
ALARM_DETAILS = ["报警人称有人滋事", "电动车被盗", "两车相撞无人伤", "接到诈骗电话"]


def states(
    rng: np.random.Generator, at: pd.Series, steps: list[tuple[str, float]], cut: pd.Timestamp
) -> tuple[list[pd.Series], np.ndarray]:
    """Times of successive lifecycle steps and the state reached by the export cut-off."""
    times, current, state = [], at, np.full(len(at), "received", dtype=object)
    for name, mean_minutes in steps:
        current = current + minutes(rng, mean_minutes, len(at))
        reached = current <= cut
        times.append(current.where(reached))
        state = np.where(reached, name, state)
    return times, state


def six_hour_files(frame: pd.DataFrame, system: str, pattern: str, day: Day) -> Iterator[Batch]:
    """Split a day's rows into the four six-hourly exports a dispatch platform makes."""
    block = frame["received_block"]
    for b in range(4):
        part = frame[block == b].drop(columns="received_block")
        yield Batch(system, pattern.format(stamp=day.stamp, hh=f"{b * 6:02d}"), part)


def alarms_110(day: Day) -> Iterator[Batch]:
    """110: alarms with dispatch and arrival times, exported every six hours."""
    rng = day.rng
    ev = clustered_events(rng, day.world.geo, day.day, day.mean(DAILY_EVENTS["alarms_110"]))
    ev["event_type"] = rng.choice(ALARM_TYPES, len(ev), p=ALARM_MIX)
    alarm_ids = ids("110", day, 1, len(ev), 14)
    cut = day_start(day.day) + pd.Timedelta(days=1)
    (dispatched, arrived, _closed), state = states(
        rng, ev["at"], [("dispatched", 3), ("arrived", 9), ("closed", 90)], cut
    )
    frame = pd.DataFrame(
        {
            "alarm_id": alarm_ids,
            "received_at": ev["at"],
            "alarm_type": ev["event_type"],
            "priority": rng.choice([1, 2, 3], len(ev), p=[0.2, 0.5, 0.3]),
            "caller_phone": phones(rng, len(ev)),
            "caller_name": names(rng, len(ev)),
            "address": [f"浦东新区{g}网格附近" for g in ev["grid_cell"]],
            "lon": ev["lon"],
            "lat": ev["lat"],
            "street_code": ev["street_code"],
            "grid_cell": ev["grid_cell"],
            "case_detail": rng.choice(ALARM_DETAILS, len(ev)),
            "dispatched_at": dispatched,
            "arrived_at": arrived,
            "status": state,
            "received_block": ev["at"].dt.hour // 6,
        }
    )  # fmt: skip
    day.truth.record(incidents(ev, "alarms_110", alarm_ids))
    yield from six_hour_files(frame, "alarms_110", "police/alarms_110/110_{stamp}_{hh}.csv", day)


def fire_calls_119(day: Day) -> Iterator[Batch]:
    """119: fire calls and rescues, one daily export."""
    rng = day.rng
    ev = clustered_events(rng, day.world.geo, day.day, day.mean(DAILY_EVENTS["fire_calls_119"]))
    ev["event_type"] = rng.choice(FIRE_TYPES, len(ev), p=[0.35, 0.15, 0.3, 0.2])
    call_ids = ids("F", day, 2, len(ev), 12)
    cut = day_start(day.day) + pd.Timedelta(days=1)
    (_dispatched, arrived, closed), state = states(
        rng, ev["at"], [("dispatched", 1), ("on_scene", 7), ("closed", 80)], cut
    )
    frame = pd.DataFrame(
        {
            "call_id": call_ids,
            "received_at": ev["at"],
            "fire_type": ev["event_type"],
            "address": [f"浦东新区{g}网格" for g in ev["grid_cell"]],
            "lon": ev["lon"],
            "lat": ev["lat"],
            "street_code": ev["street_code"],
            "caller_phone": phones(rng, len(ev)),
            "trucks_dispatched": rng.integers(1, 6, len(ev)),
            "arrived_at": arrived,
            "extinguished_at": closed,
            "casualties": rng.choice([0, 0, 0, 0, 1, 2], len(ev)),
            "status": state,
        }
    )
    day.truth.record(incidents(ev, "fire_calls_119", call_ids))
    yield Batch("fire_calls_119", f"fire/fire_calls_119/fire_calls_{day.stamp}.csv", frame)


def ambulance_120(day: Day) -> Iterator[Batch]:
    """120: ambulance dispatches, exported every six hours."""
    rng = day.rng
    ev = clustered_events(rng, day.world.geo, day.day, day.mean(DAILY_EVENTS["ambulance_120"]))
    ev["event_type"] = rng.choice(["medical.emergency", "medical.injury"], len(ev), p=[0.7, 0.3])
    dispatch_ids = ids("A", day, 3, len(ev), 12)
    cut = day_start(day.day) + pd.Timedelta(days=1)
    (dispatched, arrived, _delivered), state = states(
        rng, ev["at"], [("dispatched", 2), ("arrived", 11), ("delivered", 35)], cut
    )
    frame = pd.DataFrame(
        {
            "dispatch_id": dispatch_ids,
            "called_at": ev["at"],
            "call_type": ev["event_type"],
            "patient_age": rng.integers(1, 95, len(ev)),
            "chief_complaint": rng.choice(COMPLAINTS, len(ev)),
            "address": [f"浦东新区{g}网格" for g in ev["grid_cell"]],
            "lon": ev["lon"],
            "lat": ev["lat"],
            "street_code": ev["street_code"],
            "caller_phone": phones(rng, len(ev)),
            "vehicle_id": [f"沪120-{v:03d}" for v in rng.integers(1, 300, len(ev))],
            "dispatched_at": dispatched,
            "arrived_at": arrived,
            "hospital": rng.choice(HOSPITALS, len(ev)),
            "status": state,
            "received_block": ev["at"].dt.hour // 6,
        }
    )
    day.truth.record(incidents(ev, "ambulance_120", dispatch_ids))
    yield from six_hour_files(
        frame, "ambulance_120", "health/ambulance_120/120_dispatch_{stamp}_{hh}.csv", day
    )


METRO_STATIONS = [
    ("L2", "陆家嘴", "ST02"), ("L2", "世纪大道", "ST01"), ("L2", "张江高科", "ST22"),
    ("L4", "塘桥", "ST04"), ("L6", "金桥路", "ST19"), ("L7", "花木路", "ST12"),
    ("L9", "杨高中路", "ST09"), ("L11", "川沙", "ST13"), ("L16", "惠南", "ST24"),
    ("L16", "滴水湖", "ST36"), ("L18", "周浦", "ST25"), ("L8", "东方体育中心", "ST05"),
]  # fmt: skip


def metro_faults(day: Day) -> Iterator[Batch]:
    """Metro operator: faults on the lines through Pudong, one daily export."""
    rng = day.rng
    n = max(1, int(rng.poisson(max(day.mean(DAILY_EVENTS["metro_faults"]), 0.6))))
    where = [METRO_STATIONS[i] for i in rng.integers(0, len(METRO_STATIONS), n)]
    at = day_start(day.day) + pd.to_timedelta(np.sort(rng.integers(5 * 3600, 23 * 3600, n)), "s")
    fault_ids = ids("M", day, 4, n, 10)
    frame = pd.DataFrame(
        {
            "fault_id": fault_ids,
            "line": [w[0] for w in where],
            "station_name": [w[1] for w in where],
            "street_code": [w[2] for w in where],
            "occurred_at": at,
            "recovered_at": at + minutes(rng, 25, n),
            "fault_type": rng.choice(
                ["signal", "door", "power", "train", "platform_screen_door"], n
            ),
            "severity": rng.choice([1, 2, 3], n, p=[0.6, 0.3, 0.1]),
            "delay_minutes": rng.exponential(12, n).round(1),
        }
    )
    cells = day.world.geo.cells.groupby("street_code")["cell_code"].first()
    truth = pd.DataFrame(
        {
            "event_type": "metro.fault",
            "started_at": at,
            "street_code": frame["street_code"],
            "grid_cell": frame["street_code"].map(cells).to_numpy(),
            "system": "metro_faults",
            "record_id": fault_ids,
        }
    )
    day.truth.record(truth)
    yield Batch("metro_faults", f"metro_operator/metro_faults/faults_{day.stamp}.jsonl", frame)
