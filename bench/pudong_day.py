"""The Pudong day: one simulated day of the whole district, end to end, at several scales.

For each scale, one day is simulated into landing files, then the platform runs it as the
Dagster jobs would, one stage after another, each stage a real Dagster run in a fresh process
(the same definitions `make demo` materialises, one instance per scale):

    ingest   every bronze asset (validation, quarantine, ledger, their own balance checks)
    checks   every bronze table's quality checks (Great Expectations inside DuckDB)
    dbt      the city model for the day (`dbt build`, marts exported to gold)
    risk     group-rental and cloned-plate scoring
    publish  every share

Peak memory is the whole process tree's (the stage's process and the dbt it starts), sampled
every 50 ms. The lower bound, measured in the same command on the same files: DuckDB converting
every landing file it can read to Parquet with no validation at all.

    python -m bench pudong_day                  # writes bench/results/pudong_day.json
    SCALES=0.01,0.03 python -m bench.pudong_day
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.harness import Measure, report, run_measured, save

SCALES = tuple(float(s) for s in os.environ.get("SCALES", "0.01,0.03,0.1,0.3").split(","))
STAGES = ("ingest", "checks", "dbt", "risk", "publish")
DAY = date(2026, 11, 16)
SEED = 7
GOAL = {"scale": 0.1, "seconds": 300, "peak_mb": 4096}
# A scale is run only when the last one's day, grown in proportion, would fit this budget.
BUDGET_S = float(os.environ.get("BUDGET_S", "1500"))


def stage_job(stage: str):
    """The Dagster job of one stage, over the product's own definitions."""
    import dagster as dg

    from assets.bronze_checks import bronze_quality_checks
    from orchestration.definitions import defs

    checks = dg.AssetSelection.checks(*bronze_quality_checks)
    selections = {
        "reference": dg.AssetSelection.key_prefixes("reference"),
        "ingest": dg.AssetSelection.tag("layer", "bronze") - checks,
        "checks": checks,
        "dbt": dg.AssetSelection.key_prefixes("city_model"),
        "risk": dg.AssetSelection.tag("layer", "risk"),
        "publish": dg.AssetSelection.key_prefixes("shares"),
    }
    job = dg.define_asset_job(f"bench_{stage}", selection=selections[stage])
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)


def run_stage(stage: str) -> Measure:
    """One stage as a Dagster run in this process (lake and instance from the environment)."""
    import dagster as dg

    from assets.bronze import DELIVERY_DAYS

    today = DELIVERY_DAYS.get_last_partition_key()  # files are filed by the day they arrived
    partition = {"ingest": today, "dbt": DAY.isoformat(), "risk": DAY.isoformat()}.get(stage)
    with dg.DagsterInstance.get() as instance:
        began = time.perf_counter()
        result = stage_job(stage).execute_in_process(
            instance=instance, partition_key=partition, raise_on_error=False
        )
        seconds = time.perf_counter() - began
    if not result.success:
        failed = [e.message for e in result.all_events if e.is_failure][:3]
        raise RuntimeError(f"stage {stage} failed: {failed}")
    return Measure(stage, round(seconds, 2), 0.0, len(result.get_asset_materialization_events()))


def duckdb_lower_bound(landing: Path, out: Path) -> Measure:
    """DuckDB converting every landing file it can read to Parquet, no checks (this process)."""
    import duckdb

    readers = {".csv": "read_csv", ".jsonl": "read_json", ".json": "read_json",
               ".parquet": "read_parquet"}  # fmt: skip
    files = sorted(p for p in landing.rglob("*") if p.suffix in readers)
    out.mkdir(parents=True, exist_ok=True)
    rows, unreadable = 0, 0
    con = duckdb.connect()
    began = time.perf_counter()
    for index, path in enumerate(files):
        source = f"{readers[path.suffix]}('{path}')"
        try:
            copy = f"COPY (SELECT * FROM {source}) TO '{out / f'{index}.parquet'}'"
            rows += con.execute(copy).fetchall()[0][0]  # COPY returns its row count
        except duckdb.Error:
            unreadable += 1  # e.g. GBK text: DuckDB's encodings extension is a download
    measure = Measure("duckdb", round(time.perf_counter() - began, 2), 0.0, rows)
    measure.extra = {"files": len(files), "unreadable_files": unreadable}
    return measure


def simulate(scale: float, root: Path) -> float:
    """One simulated day into root/lake/landing; seconds."""
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "citysim", "generate", "--scale", str(scale), "--days", "1",
         "--seed", str(SEED), "--start", DAY.isoformat(), "--out", str(root / "lake" / "landing"),
         "--truth-out", str(root / "truth"), "--quiet"],
        check=True,
    )  # fmt: skip
    return round(time.perf_counter() - began, 1)


def lake_counts(lake_dir: Path) -> dict[str, int]:
    """What the day left in the lake: the ledger's totals (which must balance) and the events."""
    from deltalake import DeltaTable

    ledger = DeltaTable(str(lake_dir / "ledger" / "files")).to_pandas()
    totals = {k: int(ledger[k].sum()) for k in ("rows_read", "rows_loaded", "rows_quarantined")}
    if totals["rows_read"] != totals["rows_loaded"] + totals["rows_quarantined"]:
        raise AssertionError(f"the ledger does not balance: {totals}")
    events = DeltaTable(str(lake_dir / "gold" / "fct_city_event")).to_pyarrow_dataset()
    return {"files": len(ledger), **totals, "city_events": events.count_rows()}


def one_scale(scale: float) -> dict:
    """Simulate a day at `scale`, then run every stage and the lower bound, each measured."""
    root = Path(tempfile.mkdtemp(prefix=f"pudong-day-{scale}-"))
    env = os.environ | {
        "CITYBRAIN_LAKE": str(root / "lake"), "DAGSTER_HOME": str(root / "dagster"),
        "CITYBRAIN_TRUTH": str(root / "truth"),
        "CITYBRAIN_SHARE_KEY": os.environ.get("CITYBRAIN_SHARE_KEY", "bench-" + "0" * 58),
    }  # fmt: skip
    (root / "dagster").mkdir()
    (root / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    here = [sys.executable, "-m", "bench.pudong_day"]
    try:
        simulate_s = simulate(scale, root)
        files = [p for p in (root / "lake" / "landing").rglob("*") if p.is_file()]
        landing_mb = sum(p.stat().st_size for p in files)
        run_measured([*here, "stage", "reference"], env)
        stages = {}
        for stage in STAGES:
            seconds, peak, _ = run_measured([*here, "stage", stage], env)
            stages[stage] = {"seconds": seconds, "peak_mb": peak}
            print(f"  scale {scale}: {stage} {seconds:.1f} s, {peak:,.0f} MB", flush=True)
        counts = lake_counts(root / "lake")
        seconds, peak, line = run_measured([*here, "duckdb", str(root)], env)
        lower = Measure(**json.loads(line))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    total = round(sum(s["seconds"] for s in stages.values()), 1)
    return {
        "scale": scale, "simulate_s": simulate_s, "landing_mb": round(landing_mb / 2**20, 1),
        "stages": stages, "total_s": total, **counts,
        "peak_mb": max(s["peak_mb"] for s in stages.values()),
        "duckdb_s": seconds, "duckdb_peak_mb": peak, "duckdb_rows": lower.rows,
        "duckdb_files": lower.extra["files"], "duckdb_unreadable": lower.extra["unreadable_files"],
        "ratio_to_duckdb": round(total / seconds, 1),
    }  # fmt: skip


def run() -> dict:
    """Every scale that fits the budget, smallest first."""
    runs: list[dict] = []
    skipped = []
    for scale in SCALES:
        if runs and runs[-1]["total_s"] * scale / runs[-1]["scale"] > BUDGET_S:
            skipped.append(scale)
            continue
        runs.append(one_scale(scale))
    goal_run = next((r for r in runs if r["scale"] == GOAL["scale"]), None)
    payload = {
        "day": DAY.isoformat(), "seed": SEED, "runs": runs, "skipped_scales": skipped,
        "baseline": "DuckDB converting the same landing files to Parquet, no validation",
        "goal": GOAL,
        "goal_met": bool(goal_run and goal_run["total_s"] <= GOAL["seconds"]
                         and goal_run["peak_mb"] <= GOAL["peak_mb"]),
    }  # fmt: skip
    save("pudong_day", payload)
    return payload


if __name__ == "__main__":
    if sys.argv[1:2] == ["stage"]:
        report(run_stage(sys.argv[2]))
    elif sys.argv[1:2] == ["duckdb"]:
        root = Path(sys.argv[2])
        report(duckdb_lower_bound(root / "lake" / "landing", root / "duckdb"))
    else:
        print(run())
