"""Build Pudong's approximate geography: district outline, streets/towns, committees, grid cells.

The coordinates are made up to be roughly right (within a few km), not surveyed: they give the
simulator and the reports a plausible map. Run `python tools/build_reference.py` to rewrite
`contracts/reference/{district.yaml,streets.csv,committees.csv,grid_cells.csv}`; the output is
deterministic and committed, so nothing here runs at test or demo time.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import yaml
from scipy.cluster.vq import kmeans2

REFERENCE = Path(__file__).resolve().parent.parent / "contracts" / "reference"
CELL_LON, CELL_LAT = 0.005, 0.0045  # about 0.48 km x 0.50 km
POPULATION = 5_570_000
CELLS_PER_COMMITTEE = 4
KM_PER_DEG_LAT = 111.2

# Approximate outline, clockwise from the mouth of the Huangpu at Wusongkou (lon, lat).
OUTLINE = [
    (121.500, 31.375), (121.580, 31.365), (121.630, 31.345), (121.685, 31.315),
    (121.740, 31.265), (121.780, 31.210), (121.815, 31.140), (121.850, 31.070),
    (121.895, 31.000), (121.935, 30.930), (121.950, 30.875), (121.890, 30.855),
    (121.830, 30.875), (121.760, 30.910), (121.690, 30.945), (121.620, 30.980),
    (121.570, 31.005), (121.545, 31.040), (121.525, 31.080), (121.490, 31.115),
    (121.465, 31.150), (121.470, 31.190), (121.490, 31.215), (121.495, 31.240),
    (121.510, 31.255), (121.530, 31.270), (121.545, 31.300), (121.520, 31.340),
]  # fmt: skip

# code, name_zh, name_en, kind, centroid lon, lat, relative population (scaled to POPULATION)
STREETS = [
    ("ST01", "潍坊新村", "Weifang Xincun", "street", 121.530, 31.228, 115),
    ("ST02", "陆家嘴", "Lujiazui", "street", 121.505, 31.238, 110),
    ("ST03", "周家渡", "Zhoujiadu", "street", 121.490, 31.180, 150),
    ("ST04", "塘桥", "Tangqiao", "street", 121.517, 31.210, 95),
    ("ST05", "上钢新村", "Shanggang Xincun", "street", 121.478, 31.192, 120),
    ("ST06", "南码头路", "Nanmatou Road", "street", 121.503, 31.198, 100),
    ("ST07", "沪东新村", "Hudong Xincun", "street", 121.575, 31.278, 100),
    ("ST08", "金杨新村", "Jinyang Xincun", "street", 121.567, 31.258, 160),
    ("ST09", "洋泾", "Yangjing", "street", 121.543, 31.245, 150),
    ("ST10", "浦兴路", "Puxing Road", "street", 121.590, 31.266, 110),
    ("ST11", "东明路", "Dongming Road", "street", 121.505, 31.160, 140),
    ("ST12", "花木", "Huamu", "street", 121.553, 31.215, 130),
    ("ST13", "川沙新镇", "Chuansha Xinzhen", "town", 121.700, 31.190, 400),
    ("ST14", "高桥", "Gaoqiao", "town", 121.570, 31.350, 150),
    ("ST15", "北蔡", "Beicai", "town", 121.553, 31.185, 260),
    ("ST16", "合庆", "Heqing", "town", 121.735, 31.235, 120),
    ("ST17", "唐镇", "Tangzhen", "town", 121.660, 31.215, 170),
    ("ST18", "曹路", "Caolu", "town", 121.675, 31.278, 250),
    ("ST19", "金桥", "Jinqiao", "town", 121.615, 31.250, 130),
    ("ST20", "高行", "Gaohang", "town", 121.600, 31.300, 150),
    ("ST21", "高东", "Gaodong", "town", 121.640, 31.325, 110),
    ("ST22", "张江", "Zhangjiang", "town", 121.600, 31.205, 250),
    ("ST23", "三林", "Sanlin", "town", 121.505, 31.130, 400),
    ("ST24", "惠南", "Huinan", "town", 121.760, 31.050, 300),
    ("ST25", "周浦", "Zhoupu", "town", 121.580, 31.115, 250),
    ("ST26", "新场", "Xinchang", "town", 121.650, 31.025, 100),
    ("ST27", "大团", "Datuan", "town", 121.720, 30.985, 80),
    ("ST28", "康桥", "Kangqiao", "town", 121.590, 31.160, 250),
    ("ST29", "航头", "Hangtou", "town", 121.595, 31.050, 150),
    ("ST30", "祝桥", "Zhuqiao", "town", 121.780, 31.135, 200),
    ("ST31", "泥城", "Nicheng", "town", 121.820, 30.905, 90),
    ("ST32", "宣桥", "Xuanqiao", "town", 121.700, 31.080, 60),
    ("ST33", "书院", "Shuyuan", "town", 121.885, 30.960, 60),
    ("ST34", "万祥", "Wanxiang", "town", 121.800, 30.985, 40),
    ("ST35", "老港", "Laogang", "town", 121.835, 31.045, 40),
    ("ST36", "南汇新城", "Nanhui Xincheng", "town", 121.920, 30.890, 230),
]


def inside(lon: np.ndarray, lat: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd ray casting: which points fall inside the polygon."""
    result = np.zeros(len(lon), dtype=bool)
    x2, y2 = polygon[-1]
    for x1, y1 in polygon:
        crosses = (y1 > lat) != (y2 > lat)
        x_at = (x2 - x1) * (lat - y1) / np.where(y2 == y1, 1e-12, y2 - y1) + x1
        result ^= crosses & (lon < x_at)
        x2, y2 = x1, y1
    return result


def km2_per_cell(lat: float) -> float:
    """Area of one lattice cell at a latitude."""
    km_per_deg_lon = KM_PER_DEG_LAT * np.cos(np.radians(lat))
    return CELL_LON * km_per_deg_lon * CELL_LAT * KM_PER_DEG_LAT


def polygon_km2(polygon: np.ndarray) -> float:
    """Shoelace area of a lon/lat polygon, in km² at its mean latitude."""
    x, y = polygon[:, 0], polygon[:, 1]
    deg2 = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    return float(deg2 * KM_PER_DEG_LAT**2 * np.cos(np.radians(y.mean())))


def lattice(polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower-left corners of the lattice cells whose centre lies inside the outline."""
    lons = np.arange(polygon[:, 0].min(), polygon[:, 0].max(), CELL_LON)
    lats = np.arange(polygon[:, 1].min(), polygon[:, 1].max(), CELL_LAT)
    lon, lat = (a.ravel() for a in np.meshgrid(lons, lats))
    keep = inside(lon + CELL_LON / 2, lat + CELL_LAT / 2, polygon)
    return lon[keep], lat[keep]


def write_csv(path: Path, rows: list[dict]) -> None:
    """Write rows as UTF-8 CSV with the header taken from the first row."""
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def committees_of(code: str, name: str, kind: str, cells: np.ndarray, centre: np.ndarray):
    """Cluster a street's cells into committees; in towns the outer ones are villages."""
    k = max(1, round(len(cells) / CELLS_PER_COMMITTEE))
    if k == 1:
        labels = np.zeros(len(cells), dtype=int)
    else:
        _, labels = kmeans2(cells, k, seed=int(code[2:]), minit="++")
    groups = [np.flatnonzero(labels == g) for g in np.unique(labels)]
    groups.sort(key=lambda g: float(np.hypot(*(cells[g].mean(axis=0) - centre))))
    committees = []
    for number, members in enumerate(groups, start=1):
        village = kind == "town" and number > len(groups) // 3
        committees.append(
            (
                f"{code}-C{number:02d}",
                f"{name}第{number}{'村' if village else '居委'}",
                village,
                members,
            )
        )
    return committees


def build() -> None:
    """Write the four reference files."""
    polygon = np.array(OUTLINE)
    cell_lon, cell_lat = lattice(polygon)
    centres = np.column_stack([cell_lon + CELL_LON / 2, cell_lat + CELL_LAT / 2])
    street_xy = np.array([(s[4], s[5]) for s in STREETS])
    assert inside(street_xy[:, 0], street_xy[:, 1], polygon).all(), "a centroid lies outside"
    nearest = ((centres[:, None, :] - street_xy[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    weights = np.array([s[6] for s in STREETS], dtype=float)
    population = np.floor(weights / weights.sum() * POPULATION).astype(int)
    population[np.argmax(population)] += POPULATION - population.sum()

    street_rows, committee_rows, cell_rows = [], [], []
    for i, (code, zh, en, kind, lon, lat, _) in enumerate(STREETS):
        members = np.flatnonzero(nearest == i)
        assert len(members) >= 2, f"{code} has {len(members)} cells"
        street_rows.append(
            dict(street_code=code, name_zh=zh, name_en=en, kind=kind, centroid_lon=lon,
                 centroid_lat=lat, population=int(population[i]),
                 area_km2=round(len(members) * km2_per_cell(lat), 1), cell_count=len(members))
        )  # fmt: skip
        for c_code, c_name, village, local in committees_of(
            code, zh, kind, centres[members], street_xy[i]
        ):
            cells = members[local]
            committee_rows.append(
                dict(committee_code=c_code, street_code=code, name_zh=c_name,
                     kind="village" if village else "residential_committee",
                     centroid_lon=round(centres[cells, 0].mean(), 5),
                     centroid_lat=round(centres[cells, 1].mean(), 5), cell_count=len(cells))
            )  # fmt: skip
            for cell in cells:
                cell_rows.append((cell, code, c_code))
    cell_rows.sort()
    write_csv(REFERENCE / "streets.csv", street_rows)
    write_csv(REFERENCE / "committees.csv", committee_rows)
    write_csv(
        REFERENCE / "grid_cells.csv",
        [
            dict(cell_code=f"G{n:05d}", street_code=s, committee_code=c,
                 lon_min=round(cell_lon[i], 4), lat_min=round(cell_lat[i], 4),
                 lon_max=round(cell_lon[i] + CELL_LON, 4), lat_max=round(cell_lat[i] + CELL_LAT, 4),
                 centroid_lon=round(centres[i, 0], 5), centroid_lat=round(centres[i, 1], 5))
            for n, (i, s, c) in enumerate(cell_rows, start=1)
        ],
    )  # fmt: skip
    district = {
        "code": "PD",
        "name_zh": "浦东新区",
        "name_en": "Pudong New Area",
        "area_km2": 1210,
        "population": POPULATION,
        "approximate": True,
        "note": "Outline and centroids are approximate (a few km), drawn for simulation and maps.",
        "outline_area_km2": round(polygon_km2(polygon), 1),
        "outline": [[lon, lat] for lon, lat in OUTLINE],
    }
    with open(REFERENCE / "district.yaml", "w", encoding="utf-8") as handle:
        yaml.safe_dump(
            district, handle, allow_unicode=True, sort_keys=False, default_flow_style=None
        )
    area = district["outline_area_km2"]
    print(f"{len(cell_rows)} cells, {len(committee_rows)} committees, outline {area} km²")


if __name__ == "__main__":
    build()
