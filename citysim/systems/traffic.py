"""Traffic: the camera and vehicle registers, ANPR plate reads (with cloned plates and OCR
misreads), muck-truck permits with approved routes, and truck GPS tracks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from citysim.batch import Batch, Day
from citysim.config import OCR_MISREAD_RATE, READS_PER_ACTIVE_VEHICLE, VEHICLE_ACTIVE_SHARE
from citysim.geo import distance_m, nearest
from citysim.identity import misread
from citysim.systems.homes import chunks
from citysim.systems.sensing import registry_day
from citysim.timeline import DAY_PROFILE, day_start

NEIGHBOURS = 12


def anpr_cameras(day: Day) -> Iterator[Batch]:
    """Camera register: all on the first day, status changes after."""
    c = day.world.cameras
    frame = pd.DataFrame(
        {
            "camera_id": c["camera_id"],
            "road_name": c["road_name"],
            "lon": c["lon"],
            "lat": c["lat"],
            "street_code": c["street_code"],
            "direction": c["direction"],
            "status": np.where(day.rng.random(len(c)) < 0.01, "offline", "active"),
            "updated_at": day_start(day.day) + pd.Timedelta(hours=1),
        }
    )
    frame = registry_day(day, frame, "updated_at", 0.01)
    yield Batch("anpr_cameras", f"traffic_police/anpr_cameras/cameras_{day.stamp}.csv", frame)


def vehicle_register(day: Day) -> Iterator[Batch]:
    """Vehicle register (cars and the muck trucks): all on the first day, changes after."""
    v, t = day.world.vehicles, day.world.trucks
    start = day_start(day.day)
    trucks = pd.DataFrame(
        {
            "plate": t["plate"],
            "vehicle_make": t["vehicle_make"],
            "vehicle_colour": "黄",
            "vehicle_type": "muck_truck",
            "owner_id_number": None,
            "owner_phone": None,
            "registered_days_ago": 400,
        }
    )
    both = pd.concat([v.drop(columns=["home_lon", "home_lat"]), trucks], ignore_index=True)
    rows = both if day.index == 0 else both[day.rng.random(len(both)) < 0.001]
    for part in chunks(day, rows):
        frame = part.drop(columns="registered_days_ago").assign(
            registered_at=start - pd.to_timedelta(part["registered_days_ago"], "D"),
            updated_at=start + pd.Timedelta(hours=4),
        )
        yield Batch(
            "vehicle_register", f"traffic_police/vehicle_register/vehicles_{day.stamp}.csv", frame
        )


def camera_neighbours(day: Day) -> np.ndarray:
    """(cameras, NEIGHBOURS) nearest cameras of each camera, for plausible drives."""
    if "neighbours" not in day.carry:
        c = day.world.cameras
        lon, lat = c["lon"].to_numpy(), c["lat"].to_numpy()
        out = np.empty((len(c), min(NEIGHBOURS, len(c))), np.int64)
        for i in range(len(c)):
            out[i] = np.argsort(distance_m(lon[i], lat[i], lon, lat))[: out.shape[1]]
        day.carry["neighbours"] = out
    return day.carry["neighbours"]


def drives(
    day: Day, home_lon: np.ndarray, home_lat: np.ndarray, start_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each vehicle's reads: a walk between neighbouring cameras at road speed.

    Returns (camera index, seconds since midnight), both (vehicles, reads)."""
    rng, cams = day.rng, day.world.cameras
    lon, lat = cams["lon"].to_numpy(), cams["lat"].to_numpy()
    nb = camera_neighbours(day)
    n, r = len(home_lon), READS_PER_ACTIVE_VEHICLE
    first = nearest(home_lon, home_lat, lon, lat)
    cam = np.empty((n, r), np.int64)
    cam[:, 0] = first
    for k in range(1, r):
        cam[:, k] = nb[cam[:, k - 1], rng.integers(0, nb.shape[1], n)]
    hop = distance_m(lon[cam[:, :-1]], lat[cam[:, :-1]], lon[cam[:, 1:]], lat[cam[:, 1:]])
    speed = rng.uniform(6, 14, (n, r - 1))  # m/s on city roads, with stops
    dwell = rng.exponential(300, (n, r - 1)) * (rng.random((n, r - 1)) < 0.2)
    secs = np.concatenate(
        [start_s[:, None], start_s[:, None] + np.cumsum(hop / speed + dwell + 20, axis=1)], axis=1
    )
    return cam, secs.astype(np.int64)  # reads past midnight belong to no day: callers drop them


def anpr_reads(day: Day) -> Iterator[Batch]:
    """ANPR reads: active vehicles drive; clones drive far away at the same time; OCR misreads."""
    rng, world = day.rng, day.world
    v, clones = world.vehicles, world.clones
    active = rng.random(len(v)) < VEHICLE_ACTIVE_SHARE
    clone_rows = v["plate"].isin(clones["plate"]).to_numpy()
    active |= clone_rows  # a cloned plate's real owner drives every day
    counter = day.carry.get("counter", 0)
    victim_start: dict[str, int] = {}
    for part in chunks(day, v[active], READS_PER_ACTIVE_VEHICLE):
        n = len(part)
        start = rng.choice(24, n, p=DAY_PROFILE) * 3600 + rng.integers(0, 3600, n)
        cloned = part["plate"].isin(clones["plate"]).to_numpy()
        victim_start.update(
            zip(part["plate"].to_numpy()[cloned], start[cloned].tolist(), strict=True)
        )
        cam, secs = drives(day, part["home_lon"].to_numpy(), part["home_lat"].to_numpy(), start)
        plates = np.repeat(part["plate"].to_numpy(), cam.shape[1])
        makes = np.repeat(part["vehicle_make"].to_numpy(), cam.shape[1])
        colours = np.repeat(part["vehicle_colour"].to_numpy(), cam.shape[1])
        frame = reads_frame(day, cam.ravel(), secs.ravel(), plates, makes, colours, counter)
        counter += len(frame)
        yield Batch("anpr_reads", f"traffic_police/anpr_reads/reads_{day.stamp}.parquet", frame)
    # Clones drive from their own base within an hour of the real vehicle's drive.
    out = clones[rng.random(len(clones)) < 0.8]
    if len(out):
        real_start = out["plate"].map(victim_start).to_numpy(np.int64)
        start = np.clip(real_start + rng.integers(-3600, 3600, len(out)), 0, 86399)
        cam, secs = drives(
            day, out["clone_home_lon"].to_numpy(), out["clone_home_lat"].to_numpy(), start
        )
        r = cam.shape[1]
        frame = reads_frame(
            day,
            cam.ravel(),
            secs.ravel(),
            np.repeat(out["plate"].to_numpy(), r),
            np.repeat(out["clone_make"].to_numpy(), r),
            np.repeat(out["clone_colour"].to_numpy(), r),
            counter,
        )
        counter += len(frame)
        yield Batch("anpr_reads", f"traffic_police/anpr_reads/reads_{day.stamp}.parquet", frame)
    day.carry["counter"] = counter


def reads_frame(
    day: Day,
    cam: np.ndarray,
    secs: np.ndarray,
    plates: np.ndarray,
    makes: np.ndarray,
    colours: np.ndarray,
    counter: int,
) -> pd.DataFrame:
    """Plate reads as the camera platform records them, OCR misreads included; a drive that runs
    past midnight is cut there (clamping its reads to 23:59:59 would teleport the car)."""
    today = secs < 86400
    cam, secs, plates, makes, colours = (a[today] for a in (cam, secs, plates, makes, colours))
    rng, n = day.rng, len(cam)
    bad = rng.random(n) < OCR_MISREAD_RATE
    plates = plates.astype(object)
    for i in np.flatnonzero(bad):
        plates[i] = misread(rng, plates[i])
    day.truth.dirt["anpr_reads", "ocr_misread"] += int(bad.sum())
    confidence = np.where(bad, rng.uniform(0.45, 0.8, n), rng.uniform(0.82, 0.995, n)).round(3)
    new_energy = np.array([len(p) == 8 for p in plates])
    return pd.DataFrame(
        {
            "read_id": [f"R{(day.index * 100 + 11) * 10**9 + counter + i:014d}" for i in range(n)],
            "camera_id": day.world.cameras["camera_id"].to_numpy()[cam],
            "read_at": day_start(day.day) + pd.to_timedelta(secs, "s"),
            "plate": plates,
            "plate_colour": np.where(new_energy, "green", "blue"),
            "confidence": confidence,
            "vehicle_make": np.where(rng.random(n) < 0.03, None, makes),
            "vehicle_colour": colours,
        }
    ).sort_values("read_at", kind="stable")


def route(day: Day, truck: pd.Series) -> np.ndarray:
    """The approved route of a truck's site: site, two waypoints, disposal site (lon, lat)."""
    s = day.world.sites.iloc[int(truck["site_idx"])]
    a, b = np.array([s["lon"], s["lat"]]), np.array([s["dump_lon"], s["dump_lat"]])
    bend = np.array([-(b - a)[1], (b - a)[0]]) * 0.15
    return np.array([a, a + (b - a) / 3 + bend, a + 2 * (b - a) / 3 + bend, b])


def muck_permits(day: Day) -> Iterator[Batch]:
    """Permits of every truck that has one; renewals now and then."""
    t = day.world.trucks
    start = day_start(day.day)
    rows = []
    for i, truck in t[t["behaviour"] != "no_permit"].iterrows():
        if day.index > 0 and day.rng.random() > 0.02:
            continue
        pts = route(day, truck)
        rows.append(
            {
                "permit_id": f"MP{i:08d}",
                "plate": truck["plate"],
                "company_name": truck["company_name"],
                "site_id": truck["site_id"],
                "route_wkt": "LINESTRING (" + ", ".join(f"{x:.6f} {y:.6f}" for x, y in pts) + ")",
                "route_buffer_m": 300.0,
                "valid_from": start - pd.Timedelta(days=30),
                "valid_to": start + pd.Timedelta(days=60),
                "status": "active",
                "updated_at": start + pd.Timedelta(hours=8),
            }
        )
    yield Batch(
        "muck_permits", f"greening/muck_permits/permits_{day.stamp}.jsonl", pd.DataFrame(rows)
    )


def muck_truck_gps(day: Day) -> Iterator[Batch]:
    """Trucks run site to disposal site at night, a fix a minute; some stray, some uncover."""
    rng = day.rng
    frames, truth = [], []
    for _, truck in day.world.trucks.iterrows():
        pts = route(day, truck)
        if truck["behaviour"] == "off_route":  # one leg a night takes a detour far off the route
            detour = pts[1] + np.array([0.03, -0.02])
        for leg, start_h in enumerate([0, 2, 21, 23] if rng.random() < 0.9 else [0, 21]):
            path = pts if leg % 2 == 0 else pts[::-1]
            if truck["behaviour"] == "off_route" and leg == 1:
                path = np.array([path[0], detour, path[-1]])
                truth.append((truck["plate"], "muck.off_route", start_h))
            seg = np.linalg.norm(np.diff(path, axis=0), axis=1)
            n = max(5, int(seg.sum() / 0.005))  # about one fix per ~500 m, a minute apart
            along = np.interp(
                np.linspace(0, seg.sum(), n),
                np.concatenate([[0], np.cumsum(seg)]),
                np.arange(len(path)),
            )
            k = np.minimum(along.astype(int), len(path) - 2)
            xy = (
                path[k]
                + (path[k + 1] - path[k]) * (along - k)[:, None]
                + rng.normal(0, 0.0002, (n, 2))
            )
            loaded = leg % 2 == 0
            frames.append(
                pd.DataFrame(
                    {
                        "plate": truck["plate"],
                        "gps_at": day_start(day.day)
                        + pd.Timedelta(hours=start_h)
                        + pd.to_timedelta(np.arange(n), "min"),
                        "lon": xy[:, 0].round(6),
                        "lat": xy[:, 1].round(6),
                        "speed_kmh": rng.uniform(20, 45, n).round(1),
                        "covered": (not (loaded and truck["behaviour"] == "uncovered"))
                        if truck["has_cover_sensor"]
                        else None,
                    }
                )
            )
        if truck["behaviour"] == "no_permit":
            truth.append((truck["plate"], "muck.no_permit", 0))
    record_truck_truth(day, truth)
    frame = pd.concat(frames, ignore_index=True).sort_values(["gps_at", "plate"], kind="stable")
    hour = frame["gps_at"].dt.hour.to_numpy()
    for h in np.unique(hour):
        yield Batch(
            "muck_truck_gps", f"greening/muck_gps/gps_{day.stamp}{h:02d}.csv", frame[hour == h]
        )


def record_truck_truth(day: Day, rows: list[tuple[str, str, int]]) -> None:
    """Truth rows for trucks without permits and trucks off their routes."""
    if not rows:
        return
    t = day.world.trucks.set_index("plate")
    sites = day.world.sites
    plates = [r[0] for r in rows]
    site = sites.iloc[t.loc[plates, "site_idx"].to_numpy()]
    day.truth.record(
        pd.DataFrame(
            {
                "event_type": [r[1] for r in rows],
                "started_at": [day_start(day.day) + pd.Timedelta(hours=r[2]) for r in rows],
                "street_code": site["street_code"].to_numpy(),
                "grid_cell": site["grid_cell"].to_numpy(),
                "system": "muck_truck_gps",
                "record_id": plates,
            }
        )
    )
