"""The simulated city's standing things: flats and people, meters, devices, cameras, vehicles,
bike stations, muck trucks and sites. Built once per run, deterministically from the seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from citysim import config as C
from citysim.config import RunConfig
from citysim.geo import Geo, distance_m
from citysim.identity import COLOURS, MAKES, id_numbers, names, phones, plates

BUILDING_TYPES = ("old_lane", "mid_rise", "high_rise", "villa", "village_house")
STREET_MIX = (0.25, 0.45, 0.28, 0.02, 0.0)
TOWN_MIX = (0.02, 0.35, 0.30, 0.08, 0.25)
DEVICE_MIX = {
    "fire_lane_geomagnetic": 0.35,
    "smoke": 0.30,
    "gas": 0.10,
    "road_temperature": 0.08,
    "water_level": 0.10,
    "rain_gauge": 0.07,
}


@dataclass
class World:
    """Every entity table, one row per thing."""

    geo: Geo
    flats: pd.DataFrame
    people: pd.DataFrame
    devices: pd.DataFrame
    cameras: pd.DataFrame
    vehicles: pd.DataFrame
    clones: pd.DataFrame
    stations: pd.DataFrame
    sites: pd.DataFrame
    trucks: pd.DataFrame
    channels: pd.DataFrame


def build_world(cfg: RunConfig, geo: Geo) -> World:
    """Build the city for a run: same seed and scale, same city."""
    rng = np.random.default_rng([cfg.seed, 0])
    flats = build_flats(rng, cfg, geo)
    vehicles = build_vehicles(rng, cfg, geo)
    sites = build_sites(rng, cfg, geo)
    return World(
        geo=geo,
        flats=flats,
        people=build_people(rng, flats),
        devices=build_devices(rng, cfg, geo),
        cameras=build_cameras(rng, cfg, geo),
        vehicles=vehicles,
        clones=build_clones(rng, cfg, geo, vehicles),
        stations=build_stations(rng, cfg, geo),
        sites=sites,
        trucks=build_trucks(rng, cfg, geo, vehicles, sites),
        channels=build_channels(rng, cfg, geo, sites),
    )


def located(rng: np.random.Generator, geo: Geo, n: int) -> pd.DataFrame:
    """n things placed where people live, with their cell, committee and street."""
    idx = geo.sample_cells(rng, n)
    lon, lat = geo.points_in(rng, idx)
    cells = geo.cells.iloc[idx]
    return pd.DataFrame(
        {
            "street_code": cells["street_code"].to_numpy(),
            "committee_code": cells["committee_code"].to_numpy(),
            "grid_cell": cells["cell_code"].to_numpy(),
            "lon": lon,
            "lat": lat,
        }
    )


def build_flats(rng: np.random.Generator, cfg: RunConfig, geo: Geo) -> pd.DataFrame:
    """Flats with registered and actual occupants; a few are group rentals."""
    n = cfg.count(C.FLATS, 200)
    flats = located(rng, geo, n)
    kinds = geo.streets.set_index("street_code")["kind"].reindex(flats["street_code"]).to_numpy()
    u = rng.random(n)
    street_type = np.searchsorted(np.cumsum(STREET_MIX), u, side="right").clip(0, 4)
    town_type = np.searchsorted(np.cumsum(TOWN_MIX), u, side="right").clip(0, 4)
    type_idx = np.where(kinds == "street", street_type, town_type)
    flats["building_type"] = np.array(BUILDING_TYPES)[type_idx]
    flats.insert(0, "flat_id", [f"F{i:08d}" for i in range(n)])
    flats["building_id"] = [f"B{i // 40:07d}" for i in range(n)]
    base_area = np.array([45, 75, 90, 200, 120])[type_idx]
    flats["floor_area_m2"] = (base_area * rng.uniform(0.6, 1.5, n)).round(1)
    registered = rng.choice([0, 1, 2, 3, 4, 5], n, p=[0.04, 0.2, 0.33, 0.28, 0.11, 0.04])
    # Unregistered tenants are common and innocent: actual occupants drift from the register.
    actual = np.maximum(registered + rng.choice([-1, 0, 0, 0, 1, 2], n), 0)
    group = (rng.random(n) < C.GROUP_RENTAL_RATE * 1.6) & np.isin(type_idx, [0, 1, 4])
    registered = np.where(group, rng.integers(1, 4, n), registered)
    actual = np.where(group, rng.integers(6, 21, n), actual)
    flats["registered_occupants"] = registered
    flats["actual_occupants"] = actual
    flats["is_group_rental"] = group
    flats["complains"] = group & (rng.random(n) < C.GROUP_RENTAL_COMPLAINT_RATE)
    street = geo.street_name(flats["street_code"].to_numpy())
    room = rng.integers(1, 30, n) * 100 + rng.integers(1, 9, n)
    flats["address"] = [
        f"浦东新区{s}{b % 97 + 1}弄{b % 23 + 1}号{r}室"
        for s, b, r in zip(street, np.arange(n) // 40, room, strict=True)
    ]
    # Habits: how much a person uses, and how much of it at night (shift workers live in groups).
    flats["usage_factor"] = rng.lognormal(0, 0.25, n)
    flats["night_share"] = np.where(group, rng.uniform(0.22, 0.4, n), rng.uniform(0.08, 0.2, n))
    return flats


def build_people(rng: np.random.Generator, flats: pd.DataFrame) -> pd.DataFrame:
    """Registered occupants, one row per person on the register."""
    flat_idx = np.repeat(np.arange(len(flats)), flats["registered_occupants"].to_numpy())
    n = len(flat_idx)
    return pd.DataFrame(
        {
            "person_id": [f"P{i:09d}" for i in range(n)],
            "flat_id": flats["flat_id"].to_numpy()[flat_idx],
            "name": names(rng, n),
            "id_number": id_numbers(rng, n),
            "phone": phones(rng, n),
            "gender": rng.choice(["M", "F"], n),
            "registered_days_ago": rng.integers(30, 3650, n),
        }
    )


def build_devices(rng: np.random.Generator, cfg: RunConfig, geo: Geo) -> pd.DataFrame:
    """IoT sensors, placed where people live."""
    n = cfg.count(C.IOT_DEVICES, C.MINIMUM["devices"])
    devices = located(rng, geo, n)
    kinds = list(DEVICE_MIX)
    # Every kind at least once, the rest by the mix.
    kind_idx = np.concatenate(
        [np.arange(len(kinds)), rng.choice(len(kinds), n - len(kinds), p=list(DEVICE_MIX.values()))]
    )
    devices.insert(0, "device_id", [f"D{i:07d}" for i in range(n)])
    devices.insert(1, "device_type", np.array(kinds)[kind_idx])
    devices["installed_days_ago"] = rng.integers(10, 1500, n)
    return devices


def build_cameras(rng: np.random.Generator, cfg: RunConfig, geo: Geo) -> pd.DataFrame:
    """ANPR cameras on the roads."""
    n = cfg.count(C.ANPR_CAMERAS, C.MINIMUM["cameras"])
    cams = located(rng, geo, n)
    cams.insert(0, "camera_id", [f"K{i:06d}" for i in range(n)])
    cams["road_name"] = rng.choice(
        ["世纪大道", "张杨路", "浦东大道", "杨高路", "龙阳路", "沪南公路"], n
    )
    cams["direction"] = rng.choice(list("NSEW"), n)
    return cams


def build_vehicles(rng: np.random.Generator, cfg: RunConfig, geo: Geo) -> pd.DataFrame:
    """The vehicle register, with each vehicle's home area."""
    n = cfg.count(C.VEHICLES, 500)
    veh = located(rng, geo, n)[["lon", "lat"]].rename(
        columns={"lon": "home_lon", "lat": "home_lat"}
    )
    veh.insert(0, "plate", plates(rng, n))
    veh["vehicle_make"] = rng.choice(MAKES, n)
    veh["vehicle_colour"] = rng.choice(COLOURS, n)
    veh["vehicle_type"] = rng.choice(["car", "van", "truck"], n, p=[0.9, 0.07, 0.03])
    veh["owner_id_number"] = id_numbers(rng, n)
    veh["owner_phone"] = phones(rng, n)
    veh["registered_days_ago"] = rng.integers(30, 5000, n)
    return veh


def build_clones(
    rng: np.random.Generator, cfg: RunConfig, geo: Geo, vehicles: pd.DataFrame
) -> pd.DataFrame:
    """Cloned plates: a second vehicle, based far from the real one, carrying its plate."""
    n = max(3, round(len(vehicles) * C.CLONED_PLATE_RATE))
    cars = np.flatnonzero(vehicles["vehicle_type"].to_numpy() == "car")
    victims = rng.choice(cars, n, replace=False)
    real = vehicles.iloc[victims]
    home = located(rng, geo, n * 4)
    far = distance_m(
        np.repeat(real["home_lon"].to_numpy(), 4),
        np.repeat(real["home_lat"].to_numpy(), 4),
        home["lon"].to_numpy(),
        home["lat"].to_numpy(),
    ).reshape(n, 4)
    pick = far.argmax(axis=1) + np.arange(n) * 4  # the farthest of four candidate bases
    other_make = rng.random(n) < 0.7
    return pd.DataFrame(
        {
            "plate": real["plate"].to_numpy(),
            "real_make": real["vehicle_make"].to_numpy(),
            "real_colour": real["vehicle_colour"].to_numpy(),
            "clone_make": np.where(other_make, rng.choice(MAKES, n), real["vehicle_make"]),
            "clone_colour": np.where(other_make, real["vehicle_colour"], rng.choice(COLOURS, n)),
            "clone_home_lon": home["lon"].to_numpy()[pick],
            "clone_home_lat": home["lat"].to_numpy()[pick],
        }
    )


def build_stations(rng: np.random.Generator, cfg: RunConfig, geo: Geo) -> pd.DataFrame:
    """Bike parking zones of the six operators."""
    n = cfg.count(C.BIKE_STATIONS, C.MINIMUM["stations"])
    st = located(rng, geo, n)
    st.insert(0, "operator", np.array(C.OPERATORS)[np.arange(n) % len(C.OPERATORS)])
    st.insert(1, "station_id", [f"{i:06d}" for i in range(n)])
    st["capacity"] = rng.integers(10, 61, n)
    st["bikes_per_dock"] = cfg.count(C.BIKE_FLEET, 300) * 0.85 / st["capacity"].sum()
    # Commuter pattern: residential zones empty in the morning, business zones fill.
    st["commute"] = rng.choice([-1.0, 0.0, 1.0], n, p=[0.45, 0.2, 0.35])
    return st


def build_sites(rng: np.random.Generator, cfg: RunConfig, geo: Geo) -> pd.DataFrame:
    """Construction sites, and a disposal site for each one's spoil."""
    n = cfg.count(C.CONSTRUCTION_SITES, C.MINIMUM["sites"])
    sites = located(rng, geo, n)
    sites.insert(0, "site_id", [f"S{i:05d}" for i in range(n)])
    dump = located(rng, geo, n)
    sites["dump_lon"], sites["dump_lat"] = dump["lon"].to_numpy(), dump["lat"].to_numpy()
    sites["risk"] = rng.uniform(0.2, 3.0, n)  # some sites break rules far more often
    return sites


def build_trucks(
    rng: np.random.Generator, cfg: RunConfig, geo: Geo, vehicles: pd.DataFrame, sites: pd.DataFrame
) -> pd.DataFrame:
    """Muck trucks: most with a permit for one site's route; some without; some stray or uncover."""
    n = cfg.count(C.MUCK_TRUCKS, C.MINIMUM["trucks"])
    taken = set(vehicles["plate"].tolist())
    fresh = [p for p in plates(np.random.default_rng([cfg.seed, 7]), 2 * n + 10) if p not in taken]
    truck_plates = np.array(fresh[:n])
    site = rng.integers(0, len(sites), n)
    behaviour = rng.choice(
        ["lawful", "no_permit", "off_route", "uncovered"], n, p=[0.8, 0.06, 0.07, 0.07]
    )
    behaviour[:3] = ["no_permit", "off_route", "uncovered"][: min(3, n)]  # each kind at least once
    return pd.DataFrame(
        {
            "plate": truck_plates,
            "site_id": sites["site_id"].to_numpy()[site],
            "site_idx": site,
            "company_name": rng.choice(["浦建运输", "东方渣运", "申港土方", "临港物流"], n),
            "behaviour": behaviour,
            "has_cover_sensor": rng.random(n) < 0.8,
            "vehicle_make": rng.choice(["解放", "东风", "重汽", "陕汽"], n),
        }
    )


def build_channels(
    rng: np.random.Generator, cfg: RunConfig, geo: Geo, sites: pd.DataFrame
) -> pd.DataFrame:
    """Video channels: one per construction site, the rest on streets."""
    n = max(cfg.count(C.VIDEO_CHANNELS, 60), len(sites) + 20)
    ch = located(rng, geo, n)
    ch.insert(0, "channel_id", [f"CH{i:06d}" for i in range(n)])
    ch["site_id"] = None
    ch.loc[: len(sites) - 1, "site_id"] = sites["site_id"].to_numpy()
    for col in ("street_code", "committee_code", "grid_cell", "lon", "lat"):
        ch.loc[: len(sites) - 1, col] = sites[col].to_numpy()
    return ch
