"""The reports in a real browser: Debian's chromium, headless, driven by Playwright, loads every
page of the running app on a simulated city, checks its title and that no error shows, and saves
a screenshot of each to tests/screenshots/ (CJK fonts from Debian's fonts-noto-cjk)."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from playwright.sync_api import sync_playwright

from apps.reports.views import TITLES
from assets.risk.risk_assets import risk_assets
from bench.reports import serve

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "tests" / "screenshots"
# Drawn: the app is not running, no placeholder is left, every chart has its canvas or SVG.
DRAWN = """() => !document.querySelector('[data-testid="stStatusWidget"]')
  && !document.querySelector('[data-testid="stSkeleton"]')
  && [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
       .every(c => c.querySelector('canvas, svg'))"""


def chromium() -> str:
    """Debian's chromium (`make test` installs it)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "no chromium: `make test` installs Debian's chromium and fonts-noto-cjk"
    return found


@pytest.fixture(scope="module")
def app_url(built):
    """The reports app running over the small city (with its risk scores)."""
    lake, _, result = built
    day = max(e.partition for e in result.get_asset_materialization_events())
    assert dg.materialize(risk_assets, partition_key=day, resources={"lake": lake}).success
    server, base = serve(Path(lake.root))
    yield base
    server.terminate()
    server.wait()


def test_every_page_loads_in_chromium_without_an_error(app_url, tmp_path) -> None:
    SHOTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium(),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
            viewport={"width": 1400, "height": 1000},
            locale="zh-CN",
        )
        page = browser.new_page()
        for name, title in TITLES.items():
            page.goto(f"{app_url}/{'' if name == 'overview' else name}")
            page.get_by_role("heading", name=title).first.wait_for(timeout=60_000)
            page.wait_for_load_state("networkidle")
            page.wait_for_function(DRAWN, timeout=60_000)
            errors = page.locator('[data-testid="stException"]').count()
            assert errors == 0, f"{name}: an error shows"
            assert page.get_by_text("查看身份").count() >= 1  # the viewer is in the sidebar
            page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        browser.close()
    assert sorted(p.stem for p in SHOTS.glob("*.png")) == sorted(TITLES)
