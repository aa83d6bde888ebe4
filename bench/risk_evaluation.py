"""The risk models on a held-out simulated city, measured by the evaluation asset.

The city's seed was never used while the models were built or tuned (development and tests use
seeds 1, 2, 3, 5, 7 and 11). The command simulates the systems the models read, ingests them,
runs the risk assets and `risk/evaluation` in one Dagster run, and writes the figures to
docs/risk_evaluation.md.

    python -m bench.risk_evaluation              # scale 0.05, 7 days, seed 424242
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

HELD_OUT_SEED = int(os.environ.get("SEED", "515151"))  # 424242: the first run, see docs/risk.md
SCALE = float(os.environ.get("SCALE", "0.05"))
DAYS = 7
START = date(2026, 11, 16)
PAGE = Path(__file__).resolve().parent.parent / "docs" / "risk_evaluation.md"
SYSTEMS = (
    "flats", "registered_occupants", "meter_readings_water", "meter_readings_power",
    "meter_readings_gas", "door_access_events", "delivery_orders", "hotline_12345",
    "group_rental_inspections", "anpr_cameras", "anpr_reads", "vehicle_register",
)  # fmt: skip


def build_city(root: Path) -> None:
    """Simulate the held-out city and ingest what the risk models read."""
    subprocess.run(
        [sys.executable, "-m", "citysim", "generate", "--scale", str(SCALE), "--days", str(DAYS),
         "--seed", str(HELD_OUT_SEED), "--out", str(root / "lake" / "landing"),
         "--truth-out", str(root / "truth"), "--quiet", "--only", *SYSTEMS],
        check=True,
    )  # fmt: skip
    import dagster as dg

    from assets.ingest.ingest import ingest_landing
    from assets.lake import LakeResource
    from assets.reference_tables import reference_assets
    from assets.registry import load_contracts

    lake = LakeResource(root=str(root / "lake"))
    assert dg.materialize(reference_assets, resources={"lake": lake}).success
    for contract in load_contracts():
        if contract.id in SYSTEMS:
            ingest_landing(contract, lake, "held-out")


def evaluate(root: Path) -> tuple[list[dict], dict]:
    """Run the risk assets and the evaluation asset; the figures and the group-rental card."""
    import json

    import dagster as dg
    from deltalake import DeltaTable

    from assets.lake import LakeResource
    from assets.risk.evaluation import risk_evaluation
    from assets.risk.risk_assets import risk_assets

    lake = LakeResource(root=str(root / "lake"))
    last = (START + timedelta(days=DAYS - 1)).isoformat()
    result = dg.materialize(
        [*risk_assets, risk_evaluation],
        partition_key=last,
        resources={"lake": lake},
        run_config={"ops": {"risk__evaluation": {"config": {"truth_dir": str(root / "truth")}}}},
    )
    assert result.success
    figures = DeltaTable(lake.table("risk", "evaluation")).to_pandas().to_dict("records")
    cards = sorted(Path(lake.uri("risk", "models", "group_rental")).glob("*/model_card.json"))
    return figures, json.loads(cards[-1].read_text())


def page(figures: list[dict], card: dict, minutes: float) -> str:
    """docs/risk_evaluation.md."""
    import pandas as pd

    lines = [
        "# Risk models on a held-out city",
        "",
        "Written by `python -m bench.risk_evaluation`; do not edit by hand. The evaluation asset",
        "(`risk/evaluation`) compares the models' output with the simulator's truth on a city",
        f"whose seed ({HELD_OUT_SEED}) was never used in development: scale {SCALE}, {DAYS} days",
        f"from {START}, 1% OCR misreads in the plate reads. The whole run (simulate, ingest,",
        f"score, evaluate) took {minutes:.1f} minutes on this machine.",
        "",
        "| model | metric | value | goal | met |",
        "|---|---|---:|---:|---|",
    ]
    for f in figures:
        goal = "" if pd.isna(f["goal_at_least"]) else f"≥ {f['goal_at_least']:g}"
        met = "" if pd.isna(f["passed"]) else ("yes" if f["passed"] else "**no**")
        value = f"{f['value']:.3f}" if f["value"] % 1 else f"{f['value']:.0f}"
        lines.append(f"| {f['model']} | {f['metric']} | {value} | {goal} | {met} |")
    lines += [
        "",
        "- `k` is the inspection capacity: as many flats as Pudong's inspectors found group",
        "  rentals in a year (4,872 of ~1.03 million flats in 2019), unless configured.",
        "- `found_by_complaints`: planted group rentals that drew a 12345 complaint during the",
        "  run; `found_vs_complaints` is what the model's top k found over that (Pudong: 1.4x).",
        "- `precision_at_k_never_inspected`: the same precision among listed flats that no",
        "  inspection had seen, where past outcomes cannot help the model.",
        "",
        f"Group-rental model ({card['mode']}, version {card['version']}): "
        + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                    for k, v in card["metrics"].items())
        + ".",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    """Build, evaluate, write the page."""
    root = Path(tempfile.mkdtemp(prefix="held-out-"))
    began = time.perf_counter()
    try:
        build_city(root)
        figures, card = evaluate(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    PAGE.write_text(page(figures, card, (time.perf_counter() - began) / 60), encoding="utf-8")
    print(f"risk evaluation: wrote {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
