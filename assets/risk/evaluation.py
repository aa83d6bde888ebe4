"""How well the risk models find what is really there: scores against the simulator's truth.

This is the one asset that reads the truth folder a simulated city comes with (planted group
rentals and clones); on a real city there is none, and it fails saying so. Figures are written
to `risk/evaluation` (Delta) and shown on the asset.
"""

import json
import os
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
from deltalake import DeltaTable

from assets.bronze import DELIVERY_DAYS
from assets.lake import LakeResource
from assets.risk.risk_assets import CLONED_PLATES, GROUP_RENTALS, OWNERS, as_of_day
from assets.risk.store import AS_OF, ZONE, write_results

TRUTH_ENV = "CITYBRAIN_TRUTH"
GOALS = {  # issue 6's acceptance: (metric, at least)
    ("group_rental", "precision_at_k"): 0.85,
    ("group_rental", "found_vs_complaints"): 2.0,
    ("cloned_plate", "precision"): 0.95,
    ("cloned_plate", "recall"): 0.90,
}


class EvaluationConfig(dg.Config):
    """Where the simulated city's truth is."""

    truth_dir: str = os.environ.get(TRUTH_ENV, "truth")


def results_on(lake: LakeResource, name: str, as_of: date) -> pd.DataFrame:
    """One as-of day of `risk/<name>`."""
    table = DeltaTable(lake.table(ZONE, name), storage_options=lake.storage_options)
    return table.to_pandas(filters=[(AS_OF, "=", as_of)])


def group_rental_figures(scores: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Precision and recall at the inspection capacity, and the model against complaints."""
    planted = set(truth["flat_id"])
    top = scores[scores["in_capacity"]]
    found = top["flat_id"].isin(planted)
    fresh = top["last_inspection_outcome"].isna()
    by_complaints = int(truth["complained"].sum())
    return {
        "k": len(top),
        "planted": len(planted),
        "found_at_k": int(found.sum()),
        "precision_at_k": float(found.mean()) if len(top) else 0.0,
        "recall_at_k": float(found.sum() / len(planted)) if planted else 0.0,
        "precision_at_k_never_inspected": float(found[fresh].mean()) if fresh.any() else 0.0,
        "found_by_complaints": by_complaints,
        "found_vs_complaints": float(found.sum() / by_complaints) if by_complaints else 0.0,
    }


def cloned_plate_figures(suspects: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Precision and recall of the suspects."""
    planted = set(truth["plate"])
    hit = suspects["plate"].isin(planted)
    return {
        "suspects": len(suspects),
        "planted": len(planted),
        "found": int(hit.sum()),
        "precision": float(hit.mean()) if len(suspects) else 0.0,
        "recall": float(hit.sum() / len(planted)) if planted else 0.0,
    }


def figures_table(figures: dict[str, dict[str, float]], city: dict) -> pa.Table:
    """One row per model and metric, with its goal where the issue sets one."""
    rows = [
        {
            "model": model,
            "metric": metric,
            "value": float(value),
            "goal_at_least": GOALS.get((model, metric)),
            "passed": None if (model, metric) not in GOALS else value >= GOALS[(model, metric)],
            "seed": city["seed"],
            "scale": city["scale"],
            "days": city["days"],
        }
        for model, values in figures.items()
        for metric, value in values.items()
    ]
    return pa.Table.from_pylist(rows)


@dg.asset(
    key=dg.AssetKey(["risk", "evaluation"]),
    deps=[GROUP_RENTALS, CLONED_PLATES],
    group_name="risk",
    owners=OWNERS,
    kinds={"delta"},
    partitions_def=DELIVERY_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    tags={"layer": "risk"},
    description="The risk models against a simulated city's truth: precision and recall at the "
    "inspection capacity, and group rentals found by the model against those complaints found.",
)
def risk_evaluation(
    context: dg.AssetExecutionContext, config: EvaluationConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Compare the as-of day's scores and suspects with the truth."""
    truth = Path(config.truth_dir)
    if not (truth / "manifest.json").exists():
        raise dg.Failure(
            f"no simulator truth at {truth.resolve()}: evaluation needs a simulated city"
        )
    city = json.loads((truth / "manifest.json").read_text())
    as_of = as_of_day(context)
    figures = {
        "group_rental": group_rental_figures(
            results_on(lake, "group_rental_scores", as_of),
            pd.read_csv(truth / "group_rentals.csv"),
        ),
        "cloned_plate": cloned_plate_figures(
            results_on(lake, "cloned_plate_suspects", as_of),
            pd.read_csv(truth / "cloned_plates.csv"),
        ),
    }
    table = figures_table(figures, city)
    write_results(lake, "evaluation", table, as_of)
    rows = table.to_pylist()
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "city": f"seed {city['seed']}, scale {city['scale']}, {city['days']} days",
            "goals_met": sum(bool(r["passed"]) for r in rows if r["passed"] is not None),
            "goals": len(GOALS),
            **{f"{r['model']}.{r['metric']}": float(r["value"]) for r in rows},
        }
    )
