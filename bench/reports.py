"""Reports benchmark: time to first render of every page, in a real browser, on a simulated week.

A city at SCALE (0.1 by default) is simulated for 7 days, ingested, modelled and scored; then
the reports app runs (`streamlit run`) and Debian's chromium, driven by Playwright, opens each
page once, cold: the time from navigation until the title, every chart and every table are drawn
and the app is idle. Baseline: the same page opened again (warm: the tables are cached). The app
is started by opening the effectiveness page first, so that page's "cold" figure is warm.

    python -m bench reports                      # writes bench/results/reports.json
    LAKE=/tmp/week/lake python -m bench.reports  # reuse a lake built before
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

from bench.harness import free_port, peak_rss_mb, save

SCALE = float(os.environ.get("SCALE", "0.1"))
DAYS = 7
START = date(2026, 11, 16)
ROOT = Path(__file__).resolve().parents[1]


def build_week(root: Path) -> Path:
    """Simulate, ingest, model and score a week; the lake."""
    lake_dir = root / "lake"
    subprocess.run(
        [sys.executable, "-m", "citysim", "generate", "--scale", str(SCALE), "--days", str(DAYS),
         "--seed", "2", "--out", str(lake_dir / "landing"), "--truth-out", str(root / "truth"),
         "--quiet"],
        check=True,
    )  # fmt: skip
    import dagster as dg

    from assets.city_model.dbt_assets import city_model, dbt_resource
    from assets.ingest.ingest import ingest_landing
    from assets.lake import LakeResource
    from assets.reference_tables import reference_assets
    from assets.registry import load_contracts
    from assets.risk.risk_assets import risk_assets

    lake = LakeResource(root=str(lake_dir))
    assert dg.materialize(reference_assets, resources={"lake": lake}).success
    for contract in load_contracts():
        ingest_landing(contract, lake, "bench")
    last = (START + timedelta(days=DAYS - 1)).isoformat()
    with dg.instance_for_test() as instance:
        built = dg.materialize(
            [city_model], instance=instance, resources={"lake": lake, "dbt": dbt_resource()},
            tags={"dagster/asset_partition_range_start": START.isoformat(),
                  "dagster/asset_partition_range_end": last},
        )  # fmt: skip
    assert built.success
    assert dg.materialize(risk_assets, partition_key=last, resources={"lake": lake}).success
    return lake_dir


def serve(lake_dir: Path) -> tuple[subprocess.Popen, str]:
    """The reports app over the lake (as the district centre), once healthy."""
    port = free_port()
    env = os.environ | {"CITYBRAIN_LAKE": str(lake_dir), "CITYBRAIN_VIEWER": "city_ops_centre"}
    app = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "apps/reports/app.py"),
         "--server.headless", "true", "--server.port", str(port),
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         "--client.toolbarMode", "minimal"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(f"{base}/_stcore/health", timeout=1)
            return app, base
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the reports app did not start")


def time_pages(base: str, profile: Path) -> list[dict]:
    """Seconds to first render of each page, cold then warm."""
    from playwright.sync_api import sync_playwright

    from apps.reports.views import TITLES
    from tests.test_reports_browser import DRAWN, chromium

    runs = []
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(profile), executable_path=chromium(), headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )  # fmt: skip
        page = browser.new_page()
        # The app's own start-up (its first script run imports the product) is not a page's
        # render: wait until the effectiveness page is really drawn, not only its empty shell.
        page.goto(f"{base}/effectiveness")
        page.get_by_role("heading", name=TITLES["effectiveness"]).first.wait_for(timeout=300_000)
        page.wait_for_function(DRAWN, timeout=300_000)
        for name, title in TITLES.items():
            seconds = []
            for _ in ("cold", "warm"):
                began = time.perf_counter()
                page.goto(f"{base}/{'' if name == 'overview' else name}")
                page.get_by_role("heading", name=title).first.wait_for(timeout=300_000)
                page.wait_for_function(DRAWN, timeout=300_000)
                seconds.append(round(time.perf_counter() - began, 2))
            runs.append({"page": name, "title": title, "cold_s": seconds[0], "warm_s": seconds[1]})
        browser.close()
    return runs


def run() -> dict:
    """Build (or reuse) the week, then time every page."""
    root = Path(tempfile.mkdtemp(prefix="reports-bench-"))
    try:
        lake_dir = Path(os.environ["LAKE"]) if "LAKE" in os.environ else build_week(root)
        app, base = serve(lake_dir)
        try:
            runs = time_pages(base, root / "profile")
            app_peak_mb = round(peak_rss_mb(app.pid), 1)
        finally:
            app.terminate()
            app.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    payload = {
        "scale": SCALE, "days": DAYS, "runs": runs, "app_peak_mb": app_peak_mb,
        "slowest_cold_s": max(r["cold_s"] for r in runs),
        "baseline": "the same page opened again (warm: its tables cached)",
        "goal": "at most 2 s to first render per page",
    }  # fmt: skip
    save("reports", payload)
    return payload


if __name__ == "__main__":
    print(run())
