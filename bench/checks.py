"""Checks benchmark: every quality check of a bronze table against the ingest of that table.

Side by side in one command, each step in a fresh process (its own peak memory): the ingest of
a gas-meter CSV into bronze (the baseline), then all of the table's checks over the partition
it loaded, through the same code as the Dagster checks (Great Expectations inside DuckDB).

    python -m bench checks                      # writes bench/results/checks.json
    ROWS=1000000 python -m bench.checks         # a quick run at another size
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import Measure, in_subprocess, report, run_measured, save, timed
from bench.ingest import LANDING, SYSTEM, make_csv

SIZES = tuple(
    int(n) for n in os.environ.get("ROWS", "2500000,10000000,20000000,40000000").split(",")
)


def check_step(lake_root: Path, rows: int) -> Measure:
    """All checks of the bronze table over the event dates it holds, in this process."""
    from deltalake import DeltaTable

    from assets.bronze_checks import PARTITION, table_spec
    from assets.delta_scan import duckdb_scan
    from assets.lake import LakeResource
    from assets.registry import CONTRACTS_DIR, load_contract
    from quality.checks import CheckScope, evaluate
    from quality.rules import table_rules

    contract = load_contract(CONTRACTS_DIR / "systems" / f"{SYSTEM}.yaml")
    lake = LakeResource(root=str(lake_root))
    spec = table_spec(contract)
    rules = table_rules(spec)
    bronze = DeltaTable(lake.table("bronze", SYSTEM))
    dates = sorted({p[PARTITION] for p in bronze.partitions()})
    rows_scan = duckdb_scan(lake, "bronze", SYSTEM, (PARTITION, dates))
    whole = duckdb_scan(lake, "bronze", SYSTEM)
    scope = CheckScope(
        rows_sql=rows_scan.sql,
        table_sql=whole.sql,
        partition=None,
        history_uri=lake.table("quality", "check_results"),
        arrow={**rows_scan.arrow, **whole.arrow},
    )
    found = []
    began = time.perf_counter()
    import great_expectations  # noqa: F401  (its start-up, timed apart: once per process)

    startup_s = time.perf_counter() - began

    def run() -> int:
        outcomes, _ = evaluate(spec, rules, scope)
        found.extend(outcomes)
        return rows

    measure = timed(f"{len(rules)} checks", run)
    measure.extra["ge_startup_s"] = round(startup_s, 3)
    loaded = bronze.to_pyarrow_dataset().count_rows()
    ran = [o for o in found if o.error is None]
    assert ran and all(o.element_count in (None, loaded) for o in ran), [o.message for o in ran]
    return measure


def gas_job():
    """The gas table's bronze asset and its checks, as a job of the product's definitions (and
    so with their executor). Module-level, so Dagster can rebuild it in each step's process."""
    import dagster as dg

    from orchestration.definitions import defs

    selection = dg.AssetSelection.assets(dg.AssetKey(["bronze", SYSTEM]))
    job = dg.define_asset_job("bench_gas_ingest_and_checks", selection=selection)
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(job.name)


def dagster_run() -> dict[str, float]:
    """Ingest and check the table in one real Dagster run of the product's executor (lake and
    instance from the environment): each step's seconds from its start in its forked worker to
    its end, and the run's one-off start of the fork server (charged to neither step)."""
    import dagster as dg

    from assets.bronze import DELIVERY_DAYS

    today = DELIVERY_DAYS.get_last_partition_key()  # the file arrived today
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(
            dg.reconstructable(gas_job), instance, tags={"dagster/partition": today}
        )
        assert result.success, "the benchmark's Dagster run failed"
        times: dict[tuple[str, str], float] = {}
        for record in instance.all_logs(result.run_id):
            event = record.dagster_event
            if event is not None and record.step_key is not None:
                times[(record.step_key, event.event_type_value)] = record.timestamp
    steps = {key for key, _ in times}
    ingest = next(k for k in steps if k.startswith("bronze"))
    checks = next(k for k in steps if k.endswith("_quality"))

    def took(step: str, begin: str = "STEP_START", end: str = "STEP_SUCCESS") -> float:
        return round(times[(step, end)] - times[(step, begin)], 2)

    return {
        "ingest_s": took(ingest), "checks_s": took(checks),
        "fork_server_start_s": took(ingest, "STEP_WORKER_STARTING", "STEP_START"),
    }  # fmt: skip


def in_dagster(root: Path) -> dict[str, float]:
    """`dagster_run` in a fresh process over the lake at `root`, with its own instance."""
    home = root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = os.environ | {"CITYBRAIN_LAKE": str(root), "DAGSTER_HOME": str(home)}
    _, _, line = run_measured([sys.executable, "-m", "bench.checks", "dagster"], env)
    return json.loads(line)


def run() -> dict:
    """Ingest, then check, at every size; the ratio of check time to ingest time."""
    runs = []
    for rows in SIZES:
        root = Path(tempfile.mkdtemp(prefix="checks-bench-"))
        try:
            make_csv(root / "landing" / LANDING.format("20261116"), rows)
            ingest = in_subprocess("bench.ingest", "step", "ingest", str(root), str(rows))
            checks = in_subprocess("bench.checks", "step", str(root), str(rows))
            startup = checks.extra["ge_startup_s"]
            shutil.rmtree(root / "bronze")  # again, now as one Dagster run of both steps
            shutil.rmtree(root / "ledger")
            shutil.rmtree(root / "quarantine", ignore_errors=True)
            run = in_dagster(root)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        runs.append({
            "rows": rows, "checks": checks.step,
            "ingest_s": ingest.seconds, "ingest_peak_mb": ingest.peak_mb,
            "checks_s": checks.seconds, "checks_peak_mb": checks.peak_mb,
            "ge_startup_s": startup,
            "time_share": round((checks.seconds + startup) / ingest.seconds, 3),
            "time_share_warm": round(checks.seconds / ingest.seconds, 3),
            "dagster_ingest_s": run["ingest_s"], "dagster_checks_s": run["checks_s"],
            "fork_server_start_s": run["fork_server_start_s"],
            "dagster_share": round(run["checks_s"] / run["ingest_s"], 3),
        })  # fmt: skip
    payload = {"system": SYSTEM, "baseline": "the ingest of the same table", "runs": runs}
    save("checks", payload)
    return payload


if __name__ == "__main__":
    if sys.argv[1:2] == ["step"]:
        report(check_step(Path(sys.argv[2]), int(sys.argv[3])))
    elif sys.argv[1:2] == ["dagster"]:
        print(json.dumps(dagster_run()))
    else:
        print(run())
