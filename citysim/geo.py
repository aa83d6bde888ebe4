"""The simulator's map: Pudong's approximate grid cells, read from the reference data files."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from citysim.config import CONTRACTS_DIR

EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class Geo:
    """Streets, committees and grid cells, with a people weight per cell."""

    streets: pd.DataFrame
    cells: pd.DataFrame
    outline: np.ndarray  # (n, 2) lon, lat

    @classmethod
    def load(cls) -> Geo:
        """Read `contracts/reference/` as data: the simulator shares no code with the product."""
        ref = CONTRACTS_DIR / "reference"
        streets, cells = read_csv(ref / "streets.csv"), read_csv(ref / "grid_cells.csv")
        for col in ("lon_min", "lat_min", "lon_max", "lat_max", "centroid_lon", "centroid_lat"):
            cells[col] = cells[col].astype(float)
        streets["population"] = streets["population"].astype(int)
        per_cell = (
            streets.set_index("street_code")["population"] / cells.groupby("street_code").size()
        )
        cells["people"] = cells["street_code"].map(per_cell).astype(float)
        cells["weight"] = cells["people"] / cells["people"].sum()
        district = yaml.safe_load((ref / "district.yaml").read_text(encoding="utf-8"))
        return cls(streets=streets, cells=cells, outline=np.array(district["outline"], float))

    def street_name(self, street_codes: np.ndarray) -> np.ndarray:
        """Chinese names of streets, for addresses."""
        names = self.streets.set_index("street_code")["name_zh"]
        return names.reindex(street_codes).to_numpy()

    def sample_cells(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Cell row indices drawn in proportion to where people live."""
        return rng.choice(len(self.cells), size=n, p=self.cells["weight"].to_numpy())

    def points_in(self, rng: np.random.Generator, cell_idx: np.ndarray) -> tuple[np.ndarray, ...]:
        """Uniform random lon, lat inside the given cells."""
        c = self.cells
        lon = rng.uniform(c["lon_min"].to_numpy()[cell_idx], c["lon_max"].to_numpy()[cell_idx])
        lat = rng.uniform(c["lat_min"].to_numpy()[cell_idx], c["lat_max"].to_numpy()[cell_idx])
        return lon.round(6), lat.round(6)

    def nearest_cells(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index of the cell whose centre is nearest each point."""
        c = self.cells
        return nearest(lon, lat, c["centroid_lon"].to_numpy(), c["centroid_lat"].to_numpy())


def read_csv(path: Path) -> pd.DataFrame:
    """A reference CSV, every value as text."""
    with open(path, encoding="utf-8", newline="") as handle:
        return pd.DataFrame(list(csv.DictReader(handle)))


def nearest(lon: np.ndarray, lat: np.ndarray, plon: np.ndarray, plat: np.ndarray) -> np.ndarray:
    """Index of the nearest of the points (plon, plat) to each (lon, lat), in bounded blocks."""
    out = np.empty(len(lon), dtype=np.int64)
    for start in range(0, len(lon), 4096):
        block = slice(start, start + 4096)
        d = (lon[block, None] - plon) ** 2 + (lat[block, None] - plat) ** 2
        out[block] = d.argmin(axis=1)
    return out


def outside_points(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points clearly outside Pudong: Puxi across the river, or out at sea."""
    west = rng.random(n) < 0.5
    lon = np.where(west, rng.uniform(121.30, 121.44, n), rng.uniform(122.10, 122.40, n))
    lat = rng.uniform(30.95, 31.30, n)
    return lon.round(6), lat.round(6)


def distance_m(
    lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray
) -> np.ndarray:
    """Great-circle distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlmb = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a))
