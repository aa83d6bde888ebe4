"""Risk benchmark: clone detection over ~10 million plate reads, and group-rental scoring over
1 million flats. Each step in a fresh process (its own peak memory), each against a baseline
measured in the same command.

- Clones: the simulator writes the reads of a large city for a few days (cameras, register,
  reads only), the ingest loads them into bronze, then `cloned_plate_suspects` runs over them.
  Baseline: DuckDB reading the same reads and sorting them by plate and time, the least any
  pairing of reads must do.
- Group rentals: a feature table of 1 million flats, drawn with replacement from the features
  of a simulated city (so the values are the pipeline's own), then fit and score. Baseline: a
  bare scikit-learn `IsolationForest` (defaults) fitted and scored on the same matrix.

    python -m bench risk                     # writes bench/results/risk.json
    READS_SCALE=0.1 FLATS=100000 python -m bench.risk   # a quick run
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from bench.harness import Measure, in_subprocess, report, save, timed

READS_SCALE = float(os.environ.get("READS_SCALE", "0.55"))
READS_DAYS = 5
FLATS = int(os.environ.get("FLATS", "1000000"))
FEATURE_CITY = {"scale": 0.02, "days": 7, "seed": 3}
START = date(2026, 11, 16)
READ_SYSTEMS = ("anpr_cameras", "anpr_reads", "vehicle_register")
FLAT_SYSTEMS = (
    "flats", "meter_readings_water", "meter_readings_power", "meter_readings_gas",
    "door_access_events", "delivery_orders", "hotline_12345", "group_rental_inspections",
)  # fmt: skip


def simulate_and_ingest(root: Path, scale: float, days: int, seed: int, systems: tuple) -> None:
    """A simulated city's files for `systems`, ingested into bronze under `root`."""
    subprocess.run(
        [sys.executable, "-m", "citysim", "generate", "--scale", str(scale), "--days", str(days),
         "--seed", str(seed), "--out", str(root / "landing"), "--truth-out", str(root / "truth"),
         "--quiet", "--only", *systems],
        check=True,
    )  # fmt: skip
    from assets.ingest.ingest import ingest_landing
    from assets.lake import LakeResource
    from assets.registry import load_contracts

    lake = LakeResource(root=str(root))
    for contract in load_contracts():
        if contract.id in systems:
            ingest_landing(contract, lake, "bench")


def clones_step(root: Path) -> Measure:
    """`cloned_plate_suspects` over the window, in this process."""
    from assets.lake import LakeResource
    from assets.risk.cloned_plates import cloned_plate_suspects

    lake = LakeResource(root=str(root))
    last = START + timedelta(days=READS_DAYS - 1)
    found, reads = {}, read_count(root)

    def run() -> int:
        found["suspects"] = cloned_plate_suspects(lake, last, READS_DAYS).num_rows
        return reads

    measure = timed("clone detection", run)
    measure.extra["suspects"] = found["suspects"]
    return measure


def sort_step(root: Path) -> Measure:
    """Baseline: the same reads read and sorted by plate and time, in this process."""
    from assets.delta_scan import connect_lake
    from assets.lake import LakeResource

    def run() -> int:
        with connect_lake(LakeResource(root=str(root)), [("bronze", "anpr_reads")]) as con:
            con.execute(
                "CREATE TEMP TABLE sorted AS SELECT * FROM bronze.anpr_reads "
                "ORDER BY plate, read_at"
            )
            return con.sql("SELECT count(*) FROM sorted").fetchall()[0][0]

    return timed("DuckDB sort of the reads", run)


def read_count(root: Path) -> int:
    """Reads in bronze."""
    from deltalake import DeltaTable

    return DeltaTable(str(root / "bronze" / "anpr_reads")).to_pyarrow_dataset().count_rows()


def features_file(root: Path) -> Path:
    """1 million flats' features, drawn from a simulated city's, saved as Parquet."""
    import numpy as np
    import pyarrow.parquet as pq

    from assets.lake import LakeResource
    from assets.risk.flat_features import flat_features

    city = root / "city"
    simulate_and_ingest(city, **FEATURE_CITY, systems=FLAT_SYSTEMS)
    last = START + timedelta(days=FEATURE_CITY["days"] - 1)
    seen = flat_features(LakeResource(root=str(city)), last, FEATURE_CITY["days"])
    pick = np.random.default_rng(0).integers(0, seen.num_rows, FLATS)
    drawn = seen.take(pick)
    ids = [f"X{i:08d}" for i in range(FLATS)]
    drawn = drawn.set_column(0, "flat_id", [ids])
    path = root / "features.parquet"
    pq.write_table(drawn, path)
    return path


def scoring_step(path: Path, bare: bool) -> Measure:
    """Fit and score 1M flats with the group-rental model (or, `bare`, a default IF)."""
    import pandas as pd

    from assets.risk import group_rental_model as gr

    frame = pd.read_parquet(path)
    if bare:
        from sklearn.ensemble import IsolationForest

        x = gr.feature_matrix(frame)
        return timed(
            "IsolationForest (defaults)",
            lambda: len(IsolationForest(random_state=0).fit(x).score_samples(x)),
        )
    modes = {}

    def run() -> int:
        model = gr.fit(frame)
        modes["supervised"] = float(model.mode == "supervised")
        return len(gr.as_arrow(gr.score(frame, model).assign(in_capacity=True, model_version="b")))

    measure = timed("group-rental fit + score + reasons", run)
    measure.extra.update(modes)
    return measure


def run() -> dict:
    """Both benchmarks; their ratios to their baselines."""
    root = Path(tempfile.mkdtemp(prefix="risk-bench-"))
    try:
        simulate_and_ingest(root / "reads", READS_SCALE, READS_DAYS, 1, READ_SYSTEMS)
        clones = in_subprocess("bench.risk", "clones", str(root / "reads"))
        sort = in_subprocess("bench.risk", "sort", str(root / "reads"))
        shutil.rmtree(root / "reads")
        features = features_file(root)
        scoring = in_subprocess("bench.risk", "score", str(features))
        bare = in_subprocess("bench.risk", "bare", str(features))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    payload = {
        "clones": {
            "reads": clones.rows, "scale": READS_SCALE, "days": READS_DAYS,
            "suspects": int(clones.extra["suspects"]),
            "seconds": clones.seconds, "peak_mb": clones.peak_mb,
            "baseline": "DuckDB reading and sorting the same reads by plate and time",
            "baseline_s": sort.seconds, "baseline_peak_mb": sort.peak_mb,
            "time_ratio": round(clones.seconds / sort.seconds, 2),
        },
        "group_rentals": {
            "flats": scoring.rows, "supervised": bool(scoring.extra["supervised"]),
            "drawn_from": f"scale {FEATURE_CITY['scale']}, {FEATURE_CITY['days']} days, "
            f"seed {FEATURE_CITY['seed']}",
            "seconds": scoring.seconds, "peak_mb": scoring.peak_mb,
            "baseline": "a default scikit-learn IsolationForest fitted and scored on the same "
            "features",
            "baseline_s": bare.seconds, "baseline_peak_mb": bare.peak_mb,
            "time_ratio": round(scoring.seconds / bare.seconds, 2),
        },
        "goal": "each within 60 s and 4 GB",
    }  # fmt: skip
    save("risk", payload)
    return payload


STEPS = {
    "clones": lambda arg: clones_step(Path(arg)),
    "sort": lambda arg: sort_step(Path(arg)),
    "score": lambda arg: scoring_step(Path(arg), bare=False),
    "bare": lambda arg: scoring_step(Path(arg), bare=True),
}

if __name__ == "__main__":
    if sys.argv[1:2] and sys.argv[1] in STEPS:
        report(STEPS[sys.argv[1]](sys.argv[2]))
    else:
        print(run())
