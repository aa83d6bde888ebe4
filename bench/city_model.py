"""City-model benchmark: does adding one more day cost about what the first day did?

A simulated city of 30 days is delivered one day at a time: each day's landing files are
ingested, then the city model is built for that day (`dbt build` with the day's vars, the same
command the Dagster asset runs, after refreshing the warehouse's views over the lake). The
baseline is the first day's build in the same run; the figures are the 7th and the 30th day's
build time against it, and the build's peak memory.

Each day also counts the files in the current versions of the ingestion tables (bronze,
quarantine, ledger). With `NIGHTLY=1` the maintenance asset (compaction and vacuum, as the
`nightly_maintenance` schedule runs it) runs after every day's build, and the result is saved as
`city_model_nightly`: the same month with and without upkeep.

    python -m bench city_model                 # writes bench/results/city_model.json
    NIGHTLY=1 python -m bench city_model       # writes bench/results/city_model_nightly.json
    DAYS=7 SCALE=0.003 python -m bench.city_model
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

from bench.harness import run_measured, save

DAYS = int(os.environ.get("DAYS", "30"))
SCALE = float(os.environ.get("SCALE", "0.005"))
NIGHTLY = os.environ.get("NIGHTLY", "0") == "1"
START = date(2026, 10, 1)
STAMP = re.compile(r"(20\d{6})")


def files_by_day(landing: Path) -> dict[str, set[str]]:
    """Landing paths (relative) by the delivery day their name carries (YYYYMMDD)."""
    days: dict[str, set[str]] = defaultdict(set)
    for path in landing.rglob("*"):
        if path.is_file():
            rel = path.relative_to(landing).as_posix()
            found = STAMP.search(rel)
            days[found.group(1) if found else START.strftime("%Y%m%d")].add(rel)
    return days


def build_day(day: date, warehouse: Path) -> tuple[float, float]:
    """`dbt build` for one day, in a child process: seconds and its peak memory (MB)."""
    from assets.city_model.sources import DBT_DIR

    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "CITYBRAIN_WAREHOUSE": str(warehouse)}
    days = json.dumps({"day_from": day.isoformat(), "day_to": day.isoformat()})
    args = [str(dbt), "build", "--quiet", "--profiles-dir", ".", "--vars", days]
    seconds, peak_mb, _ = run_measured(args, env, cwd=DBT_DIR)
    return seconds, peak_mb


def active_files(lake) -> int:
    """Files in the current versions of the ingestion tables (what every reader must open)."""
    from deltalake import DeltaTable

    from assets.maintenance import ZONES, tables_in

    return sum(
        len(DeltaTable(uri, storage_options=lake.storage_options).file_uris())
        for zone in ZONES
        for uri in tables_in(lake, zone)
    )


def nightly(lake) -> float:
    """The maintenance asset, run as its schedule runs it: seconds."""
    import dagster as dg

    from assets.maintenance import compact_and_vacuum

    began = time.perf_counter()
    assert dg.materialize([compact_and_vacuum], resources={"lake": lake}).success
    return time.perf_counter() - began


def run() -> dict:
    """Simulate, then deliver and build day by day; ratios against the first day."""
    import dagster as dg

    from assets.city_model.warehouse import refresh_lake_views, warehouse_path
    from assets.ingest.ingest import ingest_landing
    from assets.lake import LakeResource
    from assets.reference_tables import reference_assets
    from assets.registry import load_contracts
    from citysim.config import RunConfig
    from citysim.generate import generate

    root = Path(tempfile.mkdtemp(prefix="city-model-bench-"))
    try:
        cfg = RunConfig(
            scale=SCALE, days=DAYS, seed=11, start=START,
            out=root / "landing", truth_out=root / "truth",
        )  # fmt: skip
        generate(cfg, progress=False)
        lake = LakeResource(root=str(root))
        dg.materialize(reference_assets, resources={"lake": lake})
        delivered = files_by_day(root / "landing")
        contracts = load_contracts()
        runs = []
        for index in range(DAYS):
            day = START + timedelta(days=index)
            began = time.perf_counter()
            for contract in contracts:
                ingest_landing(contract, lake, "bench", only=delivered[day.strftime("%Y%m%d")])
            ingest_s = time.perf_counter() - began
            refresh_lake_views(lake, contracts)
            build_s, peak_mb = build_day(day, warehouse_path(lake))
            runs.append({
                "day": index + 1, "ingest_s": round(ingest_s, 2),
                "build_s": round(build_s, 2), "build_peak_mb": round(peak_mb, 1),
                "maintenance_s": round(nightly(lake), 2) if NIGHTLY else None,
                "active_files": active_files(lake),
            })  # fmt: skip
            print(f"day {index + 1}: {runs[-1]}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    first = runs[0]["build_s"]
    payload = {
        "scale": SCALE,
        "days": DAYS,
        "nightly_maintenance": NIGHTLY,
        "baseline": "the first day's build in the same run",
        "ratio_day_7": round(runs[min(6, DAYS - 1)]["build_s"] / first, 2),
        "ratio_last_day": round(runs[-1]["build_s"] / first, 2),
        "runs": runs,
    }
    save("city_model_nightly" if NIGHTLY else "city_model", payload)
    return payload


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
