"""Reference data: Pudong's 36 streets/towns, committees and grid cells hang together, the
consumers and taxonomy validate, and the reference assets write them to Delta in a real run."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from assets.ingest.tables import read_table
from assets.lake import LakeResource
from assets.reference_tables import reference_assets
from assets.registry.reference import Reference
from tools.build_reference import inside, polygon_km2

STREETS_IN_DESIGN_ORDER = [
    "潍坊新村",
    "陆家嘴",
    "周家渡",
    "塘桥",
    "上钢新村",
    "南码头路",
    "沪东新村",
    "金杨新村",
    "洋泾",
    "浦兴路",
    "东明路",
    "花木",
    "川沙新镇",
    "高桥",
    "北蔡",
    "合庆",
    "唐镇",
    "曹路",
    "金桥",
    "高行",
    "高东",
    "张江",
    "三林",
    "惠南",
    "周浦",
    "新场",
    "大团",
    "康桥",
    "航头",
    "祝桥",
    "泥城",
    "宣桥",
    "书院",
    "万祥",
    "老港",
    "南汇新城",
]


@pytest.fixture(scope="module")
def ref() -> Reference:
    return Reference()


def test_the_36_streets_and_towns_in_order_with_pudongs_population(ref: Reference) -> None:
    streets = ref.streets
    assert [s["name_zh"] for s in streets] == STREETS_IN_DESIGN_ORDER
    assert [s["street_code"] for s in streets] == [f"ST{i:02d}" for i in range(1, 37)]
    assert Counter(s["kind"] for s in streets) == {"street": 12, "town": 24}
    assert sum(int(s["population"]) for s in streets) == ref.district["population"] == 5_570_000


def test_outline_holds_every_centroid_and_has_about_pudongs_area(ref: Reference) -> None:
    outline = np.array(ref.district["outline"], float)
    assert 1100 <= polygon_km2(outline) <= 1350
    lon = np.array([float(s["centroid_lon"]) for s in ref.streets])
    lat = np.array([float(s["centroid_lat"]) for s in ref.streets])
    assert inside(lon, lat, outline).all()
    cells = ref.grid_cells
    clon = np.array([float(c["centroid_lon"]) for c in cells])
    clat = np.array([float(c["centroid_lat"]) for c in cells])
    assert inside(clon, clat, outline).all()


def test_area_hierarchy_nests_cell_in_committee_in_street(ref: Reference) -> None:
    committees = {c["committee_code"]: c for c in ref.committees}
    cells = ref.grid_cells
    assert len({c["cell_code"] for c in cells}) == len(cells) > 1000
    per_committee = Counter(c["committee_code"] for c in cells)
    for cell in cells:
        assert committees[cell["committee_code"]]["street_code"] == cell["street_code"]
    for code, committee in committees.items():
        assert int(committee["cell_count"]) == per_committee[code] >= 1
        assert code.startswith(committee["street_code"] + "-C")
    per_street = Counter(c["street_code"] for c in cells)
    for street in ref.streets:
        assert int(street["cell_count"]) == per_street[street["street_code"]] >= 2
    kinds = Counter(c["kind"] for c in committees.values())
    assert kinds["village"] > 0 and kinds["residential_committee"] > 0


def test_taxonomy_has_13_noise_situations_with_their_own_leads(ref: Reference) -> None:
    noise = [e for e in ref.event_types if e.code.startswith("noise.")]
    assert len(noise) == 13
    leads = {e.code: e.lead for e in noise}
    assert leads["noise.construction"] == "city_mgmt"
    assert leads["noise.dog_night"] == "police"
    departments = {d.code for d in ref.departments}
    for event in ref.event_types:
        assert event.lead in departments
        assert set(event.cooperating) <= departments


def test_consumers_cover_the_36_sub_centres(ref: Reference) -> None:
    subs = [c for c in ref.consumers if c.kind == "sub_centre"]
    assert sorted(c.jurisdiction for c in subs) == [f"ST{i:02d}" for i in range(1, 37)]
    assert any(c.kind == "district_centre" and c.jurisdiction == "district" for c in ref.consumers)


def test_reference_assets_write_delta_tables_in_a_real_run(tmp_path: Path, ref: Reference) -> None:
    result = dg.materialize(reference_assets, resources={"lake": LakeResource(root=str(tmp_path))})
    assert result.success
    streets = read_table(str(tmp_path / "reference/streets"))
    assert streets.num_rows == 36
    assert streets.schema.field("population").type == "int64"
    cells = read_table(str(tmp_path / "reference/grid_cells"))
    assert cells.num_rows == len(ref.grid_cells)
    columns = read_table(str(tmp_path / "reference/contract_columns"))
    assert set(columns.column("tier").to_pylist()) <= {"L1", "L2", "L3", "L4"}
