"""Rendering a `PageView` in Streamlit, and who is looking (the viewer in the sidebar)."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from apps.reports.data import viewer, viewers
from apps.reports.views import PAGES, PageView
from assets.lake import LakeResource
from assets.registry.reference import Consumer

VIEWER_KEY = "viewer"


def current_viewer() -> Consumer:
    """The viewer chosen in the sidebar (by default the configured one)."""
    codes = [c.code for c in viewers()]
    names = {c.code: f"{c.name_zh}（{c.clearance.value}）" for c in viewers()}
    default = st.session_state.get(VIEWER_KEY, viewer().code)
    code = st.sidebar.selectbox(
        "查看身份", codes, index=codes.index(default), format_func=names.get, key=VIEWER_KEY
    )
    who = viewer(code)
    area = "全区" if who.jurisdiction == "district" else who.jurisdiction
    st.sidebar.caption(f"辖区：{area} · 权限：{who.clearance.value}")
    return who


def excel(frame: pd.DataFrame) -> bytes:
    """A table as an Excel workbook (time zones dropped: Excel has none)."""
    out = io.BytesIO()
    plain = frame.copy()
    for column in plain.select_dtypes(include=["datetimetz"]).columns:
        plain[column] = plain[column].dt.tz_localize(None)
    plain.to_excel(out, index=False)
    return out.getvalue()


def render(view: PageView) -> None:
    """Title, headline figures, charts, tables with downloads."""
    st.title(view.title)
    st.caption(view.caption)
    for note in view.notes:
        st.info(note)
    if view.metrics:
        columns = st.columns(len(view.metrics))
        for column, (label, value) in zip(columns, view.metrics.items(), strict=True):
            column.metric(label, value)
    for title, chart in view.charts:
        st.subheader(title)
        st.altair_chart(chart, use_container_width=True)
    for name, frame in view.tables.items():
        st.subheader(name)
        st.dataframe(frame, use_container_width=True, hide_index=True)
        left, right = st.columns(2)
        # Files are made when clicked (a callable), not at every render of the page.
        left.download_button("下载 CSV", lambda f=frame: f.to_csv(index=False).encode("utf-8-sig"),
                             f"{name}.csv", "text/csv", key=f"csv-{name}")  # fmt: skip
        right.download_button("下载 Excel", lambda f=frame: excel(f), f"{name}.xlsx",
                              key=f"xlsx-{name}")  # fmt: skip


def show_page(name: str) -> None:
    """One page, for the current viewer."""
    render(PAGES[name](LakeResource.from_env(), current_viewer()))
