"""IoT sensing (device registry and readings every 15 minutes) and video AI events.

Planted incidents show in the readings: blocked fire lanes, a heavy-rain spell with rising water,
a cold night with icy roads, smoke and gas alarms. Each is written to the truth.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from citysim.batch import Batch, Day, hourly, ids, incidents
from citysim.config import DAILY_EVENTS
from citysim.timeline import clustered_events, day_start

SLOTS = 96  # readings a day, every 15 minutes
METRIC = {
    "fire_lane_geomagnetic": "occupied",
    "road_temperature": "surface_temp_c",
    "water_level": "water_level_cm",
    "rain_gauge": "rain_mm",
    "smoke": "smoke_obscuration_pct",
    "gas": "gas_lel_pct",
}
ICING_C, WATER_ALARM_CM, RAIN_ALARM_MM, SMOKE_ALARM, GAS_ALARM = 2.0, 100.0, 8.0, 10.0, 20.0


def registry_day(day: Day, frame: pd.DataFrame, version_col: str, churn: float) -> pd.DataFrame:
    """A registry export: everything on the first day, a few changed records after."""
    if day.index == 0:
        return frame
    changed = day.rng.random(len(frame)) < churn
    out = frame[changed].copy()
    out[version_col] = day_start(day.day) + pd.to_timedelta(
        day.rng.integers(0, 86400, len(out)), "s"
    )
    return out


def iot_devices(day: Day) -> Iterator[Batch]:
    """Device registry, a daily JSON-lines export of new and changed devices."""
    d = day.world.devices
    start = day_start(day.day)
    frame = pd.DataFrame(
        {
            "device_id": d["device_id"],
            "device_type": d["device_type"],
            "street_code": d["street_code"],
            "grid_cell": d["grid_cell"],
            "lon": d["lon"],
            "lat": d["lat"],
            "site_name": d["committee_code"] + "点位",
            "status": np.where(day.rng.random(len(d)) < 0.02, "offline", "active"),
            "installed_at": start - pd.to_timedelta(d["installed_days_ago"], "D"),
            "updated_at": start - pd.Timedelta(hours=1),
        }
    )
    frame = registry_day(day, frame, "updated_at", 0.01)
    yield Batch("iot_devices", f"city_ops_centre/iot_devices/devices_{day.stamp}.jsonl", frame)


def episodes(
    rng: np.random.Generator, n_dev: int, rate: float, slots: tuple[int, int]
) -> np.ndarray:
    """Boolean (device, slot) mask of random episodes lasting slots[0]..slots[1] readings."""
    mask = np.zeros((n_dev, SLOTS), bool)
    who = np.flatnonzero(rng.random(n_dev) < rate)
    for dev in who:
        length = rng.integers(slots[0], slots[1] + 1)
        begin = rng.integers(0, SLOTS - length)
        mask[dev, begin : begin + length] = True
    return mask


def planted(
    day: Day, dev: pd.DataFrame, mask: np.ndarray, event_type: str, times: pd.DatetimeIndex
) -> None:
    """Record one truth incident per device episode (its first alarming reading)."""
    rows, first = np.nonzero(mask & ~np.roll(mask, 1, axis=1) | (mask & (np.arange(SLOTS) == 0)))
    if len(rows):
        d = dev.iloc[rows]
        day.truth.record(
            pd.DataFrame(
                {
                    "event_type": event_type,
                    "started_at": times[first],
                    "street_code": d["street_code"].to_numpy(),
                    "grid_cell": d["grid_cell"].to_numpy(),
                    "system": "iot_readings",
                    "record_id": d["device_id"].to_numpy(),
                }
            )
        )


def readings_for(
    day: Day, kind: str, dev: pd.DataFrame, times: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """(value, alarm) arrays of shape (devices, slots) for one device kind."""
    rng, n = day.rng, len(dev)
    hour = (times.hour + times.minute / 60).to_numpy()
    last = day.cfg.days - 1
    if kind == "fire_lane_geomagnetic":
        blocked = episodes(rng, n, 0.08, (2, 8))  # 30 minutes to 2 hours
        value = (blocked | (rng.random((n, SLOTS)) < 0.03)).astype(float)
        planted(day, dev, blocked, "iot.fire_lane_blocked", times)
        return value, blocked
    if kind == "road_temperature":
        cold = day.index == min(2, last)  # one cold night per run
        base = 11 - (9.5 if cold else 0) + 4 * np.sin((hour - 9) / 24 * 2 * np.pi)
        value = base + rng.normal(0, 0.6, (n, SLOTS))
        alarm = value <= ICING_C
        planted(day, dev, alarm, "iot.road_icing", times)
        return value.round(1), alarm
    if kind in ("rain_gauge", "water_level"):
        storm = (day.index == min(1, last)) & (hour >= 14) & (hour < 18)  # one heavy-rain spell
        if kind == "rain_gauge":
            value = np.where(
                storm, rng.uniform(9, 16, (n, SLOTS)), rng.exponential(0.05, (n, SLOTS))
            )
            alarm = value >= RAIN_ALARM_MM
            planted(day, dev, alarm, "iot.heavy_rain", times)
        else:
            rise = np.cumsum(storm) * rng.uniform(5, 12, (n, 1))
            value = rng.uniform(20, 40, (n, 1)) + rise + rng.normal(0, 1, (n, SLOTS))
            alarm = value > WATER_ALARM_CM
            planted(day, dev, alarm, "iot.water_level_high", times)
        return value.round(1), alarm
    level, threshold, event = (
        (0.3, SMOKE_ALARM, "iot.smoke_alarm")
        if kind == "smoke"
        else (0.5, GAS_ALARM, "iot.gas_alarm")
    )
    spike = episodes(rng, n, 0.004, (1, 3))
    value = np.where(
        spike,
        rng.uniform(threshold * 1.5, threshold * 4, (n, SLOTS)),
        rng.exponential(level, (n, SLOTS)),
    )
    value = np.minimum(value, threshold * 0.9, where=~spike, out=value.copy())
    planted(day, dev, spike, event, times)
    return value.round(2), spike


def iot_readings(day: Day) -> Iterator[Batch]:
    """Readings every 15 minutes, one Parquet file an hour."""
    devices = day.world.devices
    times = day_start(day.day) + pd.to_timedelta(np.arange(SLOTS) * 15, "min")
    frames = []
    for kind, dev in devices.groupby("device_type", sort=True):
        value, alarm = readings_for(day, kind, dev, times)
        n = len(dev)
        frames.append(
            pd.DataFrame(
                {
                    "device_id": np.repeat(dev["device_id"].to_numpy(), SLOTS),
                    "observed_at": np.tile(times, n),
                    "metric": METRIC[kind],
                    "value": value.ravel(),
                    "alarm": alarm.ravel(),
                    "battery_pct": np.repeat(day.rng.uniform(20, 100, n).round(0), SLOTS),
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True).sort_values(
        ["observed_at", "device_id"], kind="stable"
    )
    path = f"city_ops_centre/iot_readings/readings_{day.stamp}{{hour}}.parquet"
    yield from hourly("iot_readings", frame, "observed_at", path, keep_empty=True)


def video_ai_events(day: Day) -> Iterator[Batch]:
    """Video AI: street events, site violations, and uncovered muck trucks, hourly JSON lines."""
    rng, world = day.rng, day.world
    ch = world.channels
    street = clustered_events(
        rng, world.geo, day.day, day.mean(DAILY_EVENTS["video_ai_events"]) * 0.5
    )
    street["event_type"] = "video.business_outside_door"
    street["site_id"], street["plate"] = None, None
    street["channel_id"] = ch["channel_id"].to_numpy()[
        rng.integers(len(world.sites), len(ch), len(street))
    ]
    sites = world.sites
    per_site = rng.poisson(sites["risk"].to_numpy() * 0.6)
    s_idx = np.repeat(np.arange(len(sites)), per_site)
    site_ev = sites.iloc[s_idx][["site_id", "street_code", "grid_cell", "lon", "lat"]].reset_index(
        drop=True
    )
    site_ev["at"] = day_start(day.day) + pd.to_timedelta(
        rng.integers(7 * 3600, 19 * 3600, len(site_ev)), "s"
    )
    site_ev["event_type"] = rng.choice(
        ["video.helmet_missing", "video.open_fire"], len(site_ev), p=[0.85, 0.15]
    )
    site_ev["channel_id"] = ch["channel_id"].to_numpy()[s_idx]
    site_ev["plate"] = None
    trucks = world.trucks[world.trucks["behaviour"] == "uncovered"]
    seen = sites.iloc[trucks["site_idx"]].reset_index(drop=True)
    seen["plate"] = trucks["plate"].to_numpy()
    seen["at"] = day_start(day.day) + pd.to_timedelta(
        rng.integers(9 * 3600, 17 * 3600, len(seen)), "s"
    )
    seen["event_type"] = "video.muck_truck_uncovered"
    seen["channel_id"] = ch["channel_id"].to_numpy()[trucks["site_idx"].to_numpy()]
    ev = (
        pd.concat([street, site_ev, seen], ignore_index=True)
        .sort_values("at", kind="stable")
        .reset_index(drop=True)
    )
    event_ids = ids("V", day, 7, len(ev), 12)
    day.truth.record(incidents(ev, "video_ai_events", event_ids))
    frame = pd.DataFrame(
        {
            "event_id": event_ids,
            "channel_id": ev["channel_id"],
            "detected_at": ev["at"],
            "event_type": ev["event_type"],
            "confidence": rng.uniform(0.6, 0.99, len(ev)).round(3),
            "lon": ev["lon"],
            "lat": ev["lat"],
            "street_code": ev["street_code"],
            "grid_cell": ev["grid_cell"],
            "site_id": ev["site_id"],
            "plate": ev["plate"],
        }
    )
    path = f"city_ops_centre/video_ai/events_{day.stamp}{{hour}}.jsonl"
    yield from hourly("video_ai_events", frame, "detected_at", path)
