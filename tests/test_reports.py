"""The Streamlit reports on a simulated city: every page renders for each kind of viewer, and a
viewer sees only its jurisdiction and clearance."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from apps.reports.data import read, viewer
from apps.reports.views import PAGES, TITLES
from assets.ingest.tables import read_table
from assets.lake import ROOT_ENV
from assets.risk.risk_assets import risk_assets

APP = str(Path(__file__).resolve().parents[1] / "apps" / "reports" / "app.py")
MOBILE = re.compile(
    r"(?<![0-9A-Za-z_.])1[3-9][0-9]{9}(?![0-9A-Za-z])"
)  # not inside a number or a token
PLATE = re.compile(r"沪[A-Z][A-Z0-9]{5,6}")
VIEWERS = ("city_ops_centre", "sub_centre_ST01", "greening")  # district L3, street L2, dept L2


@pytest.fixture(scope="module")
def report_lake(built, monkeypatch_module):
    """The small city with risk scores, as the reports' lake."""
    lake, _, result = built
    day = max(e.partition for e in result.get_asset_materialization_events())
    assert dg.materialize(risk_assets, partition_key=day, resources={"lake": lake}).success
    monkeypatch_module.setenv(ROOT_ENV, lake.root)
    return lake


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def frames_of(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe]


@pytest.mark.parametrize("code", VIEWERS)
@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders_for_every_kind_of_viewer(report_lake, page: str, code: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["viewer"] = code
    at.run()
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == TITLES[page]
    shown = frames_of(at)
    if viewer(code).jurisdiction != "district":
        for frame in shown:
            if "street_code" in frame:
                assert set(frame["street_code"]) <= {"ST01"}, page
    if viewer(code).clearance.value == "L2":
        for frame in shown:
            text = frame.astype(str).to_string()
            assert not MOBILE.search(text) and not PLATE.search(text), page


def test_a_sub_centre_never_sees_another_streets_rows(report_lake) -> None:
    street, district = viewer("sub_centre_ST01"), viewer("city_ops_centre")
    mine = read(report_lake, street, "gold/fct_city_event")
    everyone = read(report_lake, district, "gold/fct_city_event")
    assert len(mine) == (everyone["street_code"] == "ST01").sum()
    assert set(mine["street_code"]) <= {"ST01"} and everyone["street_code"].nunique() > 1
    assert read(report_lake, street, "gold/mart_sla_breach").empty  # district-wide rows only


def test_an_l2_viewer_never_sees_a_plate_or_a_flat(report_lake) -> None:
    l2, l3 = viewer("greening"), viewer("traffic_police")
    cases = read(report_lake, l2, "gold/mart_muck_truck_case")
    clear = read(report_lake, l3, "gold/mart_muck_truck_case")
    assert len(cases) == len(clear) > 0
    assert cases["plate"].str.startswith("tok_").all() and clear["plate"].str.match(PLATE).all()
    scores = read(report_lake, l2, "risk/group_rental_scores")
    assert len(scores) > 0 and scores["flat_id"].str.startswith("tok_").all()


def test_the_overview_shows_the_scores_map_and_open_events(report_lake) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["viewer"] = "city_ops_centre"
    at.run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert {"安全评分", "整洁评分", "有序评分", "告警街镇", "未结事件"} <= set(labels)
    assert "街镇体征状态（按网格绘制，坐标为近似值）" in [s.value for s in at.subheader]
    assert len(at.get("download_button")) >= 4  # CSV and Excel per table
    events = read_table(report_lake.table("gold", "fct_city_event")).to_pandas()
    still_open = events[~events["is_closed"]]
    shown = PAGES["overview"](report_lake, viewer("city_ops_centre"))
    assert shown.metrics["未结事件"] == f"{len(still_open):,}"
    newest = shown.tables["当前未结事件（最新 200 条）"]
    assert len(newest) == min(200, len(still_open)) and not newest["is_closed"].any()
    assert newest["occurred_at"].is_monotonic_decreasing
    assert newest["occurred_at"].iloc[0] == still_open["occurred_at"].max()


def test_pages_read_what_their_exposures_declare(report_lake, monkeypatch) -> None:
    """Each page reads exactly its PAGE_TABLES, and the dbt exposures name those tables."""
    import yaml

    import apps.reports.views as views

    seen: list[str] = []

    def recording(lake, who, table, then=""):
        seen.append(table)
        return read(lake, who, table, then)

    monkeypatch.setattr(views, "read", recording)
    declared = yaml.safe_load(
        (Path(APP).parents[2] / "dbt_project/models/marts/_report_exposures.yml").read_text()
    )
    exposures = {e["name"]: e["depends_on"] for e in declared["exposures"]}
    for page, build in PAGES.items():
        seen.clear()
        build(report_lake, viewer("city_ops_centre"))
        tables = list(dict.fromkeys(seen))  # a page may query a table twice
        assert tables == views.PAGE_TABLES[page], page
        refs = [
            f"ref('{t.split('/')[1]}')"
            if t.startswith("gold/")
            else f"source('risk', '{t.split('/')[1]}')"
            for t in tables
            if not t.startswith("quality/")
        ]
        assert exposures.get(f"report_{page}", []) == refs, page


def test_the_map_strips_cover_each_street_exactly_as_its_cells() -> None:
    from apps.reports.views import street_strips
    from assets.registry.reference import reference

    cells = pd.DataFrame(reference().grid_cells)
    for c in ("lon_min", "lat_min", "lon_max", "lat_max"):
        cells[c] = cells[c].astype(float)
    strips = street_strips()

    def area(frame: pd.DataFrame) -> pd.Series:
        size = (frame["lon_max"] - frame["lon_min"]) * (frame["lat_max"] - frame["lat_min"])
        return size.groupby(frame["street_code"]).sum().round(9)

    assert len(strips) < len(cells) / 5
    assert area(strips).equals(area(cells))
    # a strip never spans a gap: its width is a whole number of its street's cells
    step = (cells["lon_max"] - cells["lon_min"]).min()
    widths = ((strips["lon_max"] - strips["lon_min"]) / step).round(6)
    assert (widths == widths.round()).all() and (widths >= 1).all()


def test_charts_carry_one_row_per_mark(report_lake) -> None:
    """The browser draws, it does not aggregate: a chart's data is already summed."""
    view = PAGES["bikes"](report_lake, viewer("city_ops_centre"))
    [(_, chart)] = view.charts
    [frame] = view.tables.values()
    data = chart.data
    assert len(data) == len(frame.groupby(["hour", "street_code"])) < len(frame)
    assert data["empty_stations"].sum() == frame["empty_stations"].sum()
