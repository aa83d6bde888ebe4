"""The content of every report page, apart from Streamlit: each function takes the lake and the
viewer and returns a `PageView` (headline figures, charts, tables), so the pages only render and
the logic is tested without a browser.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import altair as alt
import pandas as pd

from apps.reports.data import read
from assets.lake import LakeResource
from assets.registry.reference import Consumer, reference

STATUS_ZH = {"normal": "正常", "attention": "关注", "alarm": "告警"}
STATUS_COLOURS = {"正常": "#4caf50", "关注": "#ffb300", "告警": "#e53935", "无数据": "#cfd8dc"}
DIMENSION_ZH = {"safe": "安全", "clean": "整洁", "orderly": "有序"}


@dataclass
class PageView:
    """What one page shows."""

    title: str
    caption: str
    metrics: dict[str, str] = field(default_factory=dict)
    charts: list[tuple[str, alt.Chart]] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def street_names() -> dict[str, str]:
    """Street code -> Chinese name."""
    return {s["street_code"]: s["name_zh"] for s in reference().streets}


def latest(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The rows of the latest value of `column`."""
    return frame[frame[column] == frame[column].max()] if len(frame) else frame


def empty_note(frame: pd.DataFrame, view: PageView, what: str) -> bool:
    """Note on the page when there is nothing to show; True when empty."""
    if frame.empty:
        view.notes.append(f"暂无{what}数据（或不在您的辖区/权限范围内）。")
    return frame.empty


@cache
def street_strips() -> pd.DataFrame:
    """Each street's grid cells merged into horizontal strips: the same shapes as the cells,
    a tenth as many marks for the browser to draw."""
    cells = pd.DataFrame(reference().grid_cells)
    for c in ("lon_min", "lat_min", "lon_max", "lat_max"):
        cells[c] = cells[c].astype(float)
    cells = cells.sort_values(["street_code", "lat_min", "lon_min"])
    adjacent = (
        (cells["street_code"] == cells["street_code"].shift())
        & (cells["lat_min"] == cells["lat_min"].shift())
        & ((cells["lon_min"] - cells["lon_max"].shift()).abs() < 1e-9)
    )
    return (
        cells.assign(strip=(~adjacent).cumsum())
        .groupby("strip")
        .agg(street_code=("street_code", "first"), lon_min=("lon_min", "min"),
             lon_max=("lon_max", "max"), lat_min=("lat_min", "first"),
             lat_max=("lat_max", "first"))
        .reset_index(drop=True)
    )  # fmt: skip


def district_map(scores: pd.DataFrame) -> alt.Chart:
    """Streets coloured by their worst status, drawn from the project's own grid cells."""
    cells = street_strips().copy()
    worst = (
        scores.assign(rank=scores["status"].map({"normal": 0, "attention": 1, "alarm": 2}))
        .sort_values("rank")
        .groupby("street_code")
        .last()["status"]
        .map(STATUS_ZH)
    )
    cells["状态"] = cells["street_code"].map(worst).fillna("无数据")
    cells["街镇"] = cells["street_code"].map(street_names())
    colours = alt.Scale(domain=list(STATUS_COLOURS), range=list(STATUS_COLOURS.values()))
    return (
        alt.Chart(cells)
        .mark_rect()
        .encode(
            x=alt.X("lon_min:Q", scale=alt.Scale(zero=False), title="经度"),
            x2="lon_max",
            y=alt.Y("lat_min:Q", scale=alt.Scale(zero=False), title="纬度"),
            y2="lat_max",
            color=alt.Color("状态:N", scale=colours),
            tooltip=["街镇:N", "状态:N"],
        )
        .properties(height=520)
    )


def overview(lake: LakeResource, who: Consumer) -> PageView:
    """城市体征: one screen sees the whole city."""
    view = PageView(
        "城市体征总览", "安全、整洁、有序三个维度的街镇评分、趋势与当前未结告警（一屏观全域）。"
    )
    scores = read(lake, who, "gold/mart_area_scores_daily")
    if empty_note(scores, view, "体征评分"):
        return view
    today = latest(scores, "sign_date")
    for dim, zh in DIMENSION_ZH.items():
        mean = today.loc[today["dimension"] == dim, "score"].mean()
        view.metrics[f"{zh}评分"] = f"{mean:.1f}"
    view.metrics["告警街镇"] = str(today.loc[today["status"] == "alarm", "street_code"].nunique())
    view.charts.append(("街镇体征状态（按网格绘制，坐标为近似值）", district_map(today)))
    trend = scores.groupby(["sign_date", "dimension"], as_index=False)["score"].mean()
    trend["维度"] = trend["dimension"].map(DIMENSION_ZH)
    view.charts.append(
        ("评分趋势", alt.Chart(trend).mark_line(point=True).encode(
            x=alt.X("sign_date:T", title="日期"), y=alt.Y("score:Q", title="平均评分"),
            color="维度:N"))
    )  # fmt: skip
    open_now = "FROM masked WHERE NOT is_closed"
    counted = read(lake, who, "gold/fct_city_event", f"SELECT count(*) AS n {open_now}")
    if not counted.empty:
        view.metrics["未结事件"] = f"{counted['n'].iloc[0]:,}"
        view.tables["当前未结事件（最新 200 条）"] = read(
            lake, who, "gold/fct_city_event",
            f"SELECT * {open_now} ORDER BY occurred_at DESC LIMIT 200",
        )  # fmt: skip
    view.tables["街镇评分（最新一日）"] = today.assign(
        街镇=today["street_code"].map(street_names()), 维度=today["dimension"].map(DIMENSION_ZH)
    )
    return view


def simple(
    title: str, caption: str, table: str, what: str, chart: Callable[[pd.DataFrame], alt.Chart]
) -> Callable[[LakeResource, Consumer], PageView]:
    """A scenario page: one mart, its headline count, one chart and the table."""

    def build(lake: LakeResource, who: Consumer) -> PageView:
        view = PageView(title, caption)
        frame = read(lake, who, table)
        if empty_note(frame, view, what):
            return view
        view.metrics["记录数"] = f"{len(frame):,}"
        view.charts.append((what, chart(frame)))
        view.tables[what] = frame
        return view

    return build


def summed(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """`value` summed by `by`: charts get one row per mark, the browser aggregates nothing."""
    return frame.groupby(by, as_index=False, observed=True)[value].sum()


def bar(x: str, y: str, title: str) -> Callable[[pd.DataFrame], alt.Chart]:
    """A bar chart of `y` summed by `x`."""
    return lambda f: (
        alt.Chart(summed(f, [x], y))
        .mark_bar()
        .encode(x=alt.X(f"{x}:N", title=title), y=alt.Y(f"{y}:Q", title="合计"))
    )


def heat(x: str, y: str, value: str) -> Callable[[pd.DataFrame], alt.Chart]:
    """A heat map of `value` summed over `x` and `y`."""
    return lambda f: (
        alt.Chart(summed(f, [x, y], value))
        .mark_rect()
        .encode(x=alt.X(f"{x}:O", title=x), y=alt.Y(f"{y}:N", title=y), color=f"{value}:Q")
    )


hotline = simple("12345 热线", "各街镇投诉热点与激增。", "gold/mart_hotline_complaints",
                 "热线投诉", bar("event_name", "complaints", "投诉类型"))  # fmt: skip
bikes = simple("共享单车", "各街镇、各时段的供需与失衡告警（推送运营企业与分中心）。",
               "gold/mart_bike_balance", "单车供需",
               heat("hour", "street_code", "empty_stations"))  # fmt: skip
muck = simple("渣土车", "无证、偏离路线、未密闭：一案多查，推送各相关部门。",
              "gold/mart_muck_truck_case", "渣土车案件",
              bar("event_name", "points", "违规类型"))  # fmt: skip
construction = simple("工地安全", "未戴安全帽、明火、渣土案件与风险等级。",
                      "gold/mart_construction_site_safety", "工地安全",
                      bar("risk_level", "helmet_missing", "风险等级"))  # fmt: skip
fire_lane = simple("消防通道", "占用消防通道：物业与分中心协同处置。", "gold/mart_fire_lane",
                   "消防通道占用", bar("street_code", "blocked_readings", "街镇"))  # fmt: skip
icing = simple("道路结冰", "路面温度不高于 2 °C 即预警。", "gold/mart_road_icing", "道路结冰",
               heat("hour", "street_code", "frozen"))  # fmt: skip
flood = simple("防汛", "雨量与水位，按街镇与小时。", "gold/mart_flood", "防汛",
               heat("hour", "street_code", "max_water_level_cm"))  # fmt: skip


def group_rentals(lake: LakeResource, who: Consumer) -> PageView:
    """群租风险: the inspection list (the top k flats of the latest scoring), with reasons."""
    view = PageView(
        "群租风险", "模型排名前 k 户（k 为检查力量）为检查名单，每户附可现场核查的理由。"
    )
    scores = read(lake, who, "risk/group_rental_scores")
    if empty_note(scores, view, "群租风险"):
        return view
    listed = latest(scores, "as_of_date").query("in_capacity").sort_values("rank")
    view.metrics["检查名单"] = f"{len(listed):,} 户"
    view.metrics["评分户数"] = f"{len(latest(scores, 'as_of_date')):,}"
    view.charts.append(("名单按街镇", bar("street_code", "in_capacity", "街镇")(listed)))
    view.tables["检查名单"] = listed
    return view


cloned_plates = simple("套牌车嫌疑", "不可能的行驶速度与登记信息不符：每个嫌疑车牌附证据。",
                       "risk/cloned_plate_suspects", "套牌嫌疑",
                       bar("street_code", "confident_conflicts", "街镇"))  # fmt: skip
closed_loop = simple("闭环处置", "从派单到办结的时长，按部门与层级的超时情况。",
                     "gold/mart_sla_breach", "闭环处置",
                     bar("routed_department", "close_breaches", "部门"))  # fmt: skip
effectiveness = simple("场景成效排名", "各场景的告警、派单、办结、办结时长中位数与办结率。",
                       "gold/mart_scenario_effectiveness", "场景成效",
                       bar("scenario_name", "closed", "场景"))  # fmt: skip
quality = simple("数据质量", "各系统最近的质量检查结果（供数据管理员）。", "quality/check_results",
                 "质量检查", bar("table", "unexpected_count", "数据表"))  # fmt: skip

PAGES: dict[str, Callable[[LakeResource, Consumer], PageView]] = {
    "overview": overview, "hotline": hotline, "bikes": bikes, "muck": muck,
    "construction": construction, "fire_lane": fire_lane, "icing": icing, "flood": flood,
    "group_rentals": group_rentals, "cloned_plates": cloned_plates, "closed_loop": closed_loop,
    "effectiveness": effectiveness, "quality": quality,
}  # fmt: skip
TITLES = {
    "overview": "城市体征总览", "hotline": "12345 热线", "bikes": "共享单车", "muck": "渣土车",
    "construction": "工地安全", "fire_lane": "消防通道", "icing": "道路结冰", "flood": "防汛",
    "group_rentals": "群租风险", "cloned_plates": "套牌车嫌疑", "closed_loop": "闭环处置",
    "effectiveness": "场景成效排名", "quality": "数据质量",
}  # fmt: skip
# The lake tables each page reads (dbt exposures in models/marts/_report_exposures.yml).
PAGE_TABLES = {
    "overview": ["gold/mart_area_scores_daily", "gold/fct_city_event"],
    "hotline": ["gold/mart_hotline_complaints"], "bikes": ["gold/mart_bike_balance"],
    "muck": ["gold/mart_muck_truck_case"], "construction": ["gold/mart_construction_site_safety"],
    "fire_lane": ["gold/mart_fire_lane"], "icing": ["gold/mart_road_icing"],
    "flood": ["gold/mart_flood"], "group_rentals": ["risk/group_rental_scores"],
    "cloned_plates": ["risk/cloned_plate_suspects"], "closed_loop": ["gold/mart_sla_breach"],
    "effectiveness": ["gold/mart_scenario_effectiveness"], "quality": ["quality/check_results"],
}  # fmt: skip
