"""The risk models as Dagster assets: group-rental scores and cloned-plate suspects.

Each is partitioned by day like the rest of the lake: a run for a day (or the last day of a range)
scores the window of days that ends with it and replaces that day's partition of `risk/<model>`.
"""

from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import sklearn

from assets.bronze import DELIVERY_DAYS
from assets.lake import LakeResource
from assets.risk import cloned_plates, flat_features
from assets.risk import group_rental_model as gr
from assets.risk.outputs import SCORES_SCHEMA, SUSPECTS_OUTPUT_SCHEMA
from assets.risk.store import save_model, write_results

OWNERS = ["risk-models@citybrain.local"]
PUBLIC_SHARE_OF_FLATS = 4872 / 1_026_667  # Pudong, 2019: group rentals found over all flats
GROUP_RENTALS = dg.AssetKey(["risk", "group_rental_scores"])
CLONED_PLATES = dg.AssetKey(["risk", "cloned_plate_suspects"])


class GroupRentalConfig(dg.Config):
    """How much to look at, and how many flats the inspectors can visit."""

    window_days: int = 7
    inspection_capacity: int = 0  # 0: Pudong's yearly rate (see `capacity`)


class ClonedPlateConfig(dg.Config):
    """How much to look at; the thresholds are `cloned_plates.CloneRules`."""

    window_days: int = 7


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    """A risk table's columns, for the asset's schema tab."""
    return dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in schema])


def as_of_day(context: dg.AssetExecutionContext) -> date:
    """The last day of the run's partition (range): the day the window ends."""
    return date.fromisoformat(context.partition_key_range.end)


def bronze_deps(inputs: list[tuple[str, str]]) -> list[dg.AssetKey]:
    """Asset keys of a model's bronze inputs."""
    return [dg.AssetKey([zone, name]) for zone, name in inputs]


def capacity(flats: int, configured: int) -> int:
    """The inspection capacity: as configured, else as many flats as Pudong's inspectors found
    group rentals in a year (4,872 of ~1.03 million flats in 2019)."""
    return configured if configured > 0 else max(1, round(flats * PUBLIC_SHARE_OF_FLATS))


def group_rental_card(
    model: gr.FittedModel, as_of: date, window_days: int, flats: int, k: int
) -> dict[str, Any]:
    """The model card's content."""
    return {
        "as_of": as_of.isoformat(),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_window": f"{window_days} days ending {as_of.isoformat()} (Asia/Shanghai)",
        "mode": model.mode,
        "flats_scored": flats,
        "inspection_capacity": k,
        "features": [f"{f.name}: {f.reason}" for f in gr.FEATURES],
        "metrics": model.metrics or {"note": "no inspection outcomes to learn from: unsupervised"},
        "estimators": "IsolationForest(100 trees)"
        + (" -> LogisticRegression, sigmoid-calibrated" if model.classifier else ""),
        "scikit_learn": sklearn.__version__,
    }


@dg.asset(
    key=GROUP_RENTALS,
    deps=bronze_deps(flat_features.INPUTS),
    group_name="risk",
    owners=OWNERS,
    kinds={"scikitlearn", "delta"},
    partitions_def=DELIVERY_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    tags={"layer": "risk", "max_tier": "L3"},
    metadata={"dagster/column_schema": column_schema(SCORES_SCHEMA)},
    description="群租风险: every flat's score, rank and top reasons, from meters, door access, "
    "deliveries and complaints against its register and peers; the top k (the inspection "
    "capacity) go to dispatch.",
)
def group_rental_scores(
    context: dg.AssetExecutionContext, config: GroupRentalConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Fit and score; save the model with its card; write the scores."""
    as_of = as_of_day(context)
    frame = flat_features.flat_features(lake, as_of, config.window_days).to_pandas()
    if frame.empty:
        raise dg.Failure(f"bronze/flats has no flats at {lake.root}: nothing to score")
    model = gr.fit(frame)
    scores = gr.score(frame, model)
    k = capacity(len(frame), config.inspection_capacity)
    card = group_rental_card(model, as_of, config.window_days, len(frame), k)
    saved = save_model(lake, "group_rental", model, card)
    scores["in_capacity"] = scores["rank"] <= k
    scores["model_version"] = saved.version
    uri = write_results(lake, "group_rental_scores", gr.as_arrow(scores), as_of)
    top = scores[scores["in_capacity"]]
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "mode": model.mode,
            "flats_scored": len(scores),
            "inspection_capacity": k,
            "top_k_mean_score": float(top["score"].mean()),
            **{k_: dg.MetadataValue.float(float(v)) for k_, v in model.metrics.items()},
            "model_version": saved.version,
            "model_card": dg.MetadataValue.path(saved.card),
            "path": dg.MetadataValue.path(uri),
            "top_10": dg.MetadataValue.md(top_table(top.head(10))),
        }
    )


def top_table(top: pd.DataFrame) -> str:
    """The first cases of the inspection list, as Markdown."""
    rows = [
        f"| {r.rank} | {r.flat_id} | {r.street_code} | {r.score:.3f} | {'；'.join(r.reasons)} |"
        for r in top.itertuples()
    ]
    return "\n".join(["| rank | flat | street | score | reasons |", "|---|---|---|---|---|", *rows])


@dg.asset(
    key=CLONED_PLATES,
    deps=bronze_deps(cloned_plates.INPUTS),
    group_name="risk",
    owners=OWNERS,
    kinds={"duckdb", "delta"},
    partitions_def=DELIVERY_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    tags={"layer": "risk", "max_tier": "L3"},
    metadata={"dagster/column_schema": column_schema(SUSPECTS_OUTPUT_SCHEMA)},
    description="套牌车嫌疑: plates read at two cameras faster than any road allows, again or on "
    "a car the register does not describe; each with its reads, cameras and implied speeds.",
)
def cloned_plate_suspects(
    context: dg.AssetExecutionContext, config: ClonedPlateConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Detect suspects over the window; save the rules with a card; write the suspects."""
    as_of = as_of_day(context)
    rules = cloned_plates.CloneRules()
    suspects = cloned_plates.cloned_plate_suspects(lake, as_of, config.window_days, rules)
    card = {
        "as_of": as_of.isoformat(),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_window": f"{config.window_days} days ending {as_of.isoformat()} (Asia/Shanghai)",
        "method": "rules in DuckDB (assets/risk/cloned_plates.py): impossible travel between "
        "camera pairs, OCR repair of confusable characters, register mismatch",
        "rules": rules.params(),
        "suspects": suspects.num_rows,
    }
    saved = save_model(lake, "cloned_plates", rules, card)
    versions = pa.array([saved.version] * suspects.num_rows, pa.string())
    suspects = suspects.append_column("model_version", versions)
    uri = write_results(lake, "cloned_plate_suspects", suspects, as_of)
    fastest = suspects.column("max_implied_kmh").to_numpy()
    return dg.MaterializeResult(
        metadata={
            "as_of": as_of.isoformat(),
            "suspects": suspects.num_rows,
            "median_implied_kmh": float(np.median(fastest)) if len(fastest) else 0.0,
            "model_version": saved.version,
            "model_card": dg.MetadataValue.path(saved.card),
            "path": dg.MetadataValue.path(uri),
        }
    )


risk_assets = [group_rental_scores, cloned_plate_suspects]
