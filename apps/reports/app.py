"""城市运行报告: `streamlit run apps/reports/app.py` (or `make reports`)."""

import streamlit as st

from apps.reports.views import TITLES

st.set_page_config(page_title="浦东城市运行 · 一网统管", page_icon="🏙️", layout="wide")
pages = [
    st.Page(f"app_pages/{name}.py", title=title, url_path=name, default=name == "overview")
    for name, title in TITLES.items()
]
st.navigation(pages).run()
