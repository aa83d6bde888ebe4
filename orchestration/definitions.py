"""The one entry point of the CityBrain code location (`dagster dev` finds it via pyproject)."""

import dagster as dg

from assets.bronze import bronze_assets
from assets.bronze_checks import bronze_quality_checks
from assets.city_model.dbt_assets import city_model, history_specs
from assets.maintenance import compact_and_vacuum, maintenance_schedule
from assets.reference_tables import reference_assets
from assets.risk.evaluation import risk_evaluation
from assets.risk.risk_assets import risk_assets
from assets.sharing.share_assets import share_assets
from orchestration.resources import resources
from orchestration.sensors import landing_sensor

ingest_job = dg.define_asset_job(
    "ingest_landing",
    selection=dg.AssetSelection.tag("layer", "bronze"),
    description="Ingest every system's pending landing files (one delivery day per partition).",
)

# Every step forks from a server that has already imported the code location and Great
# Expectations, instead of spawning a fresh interpreter that imports them again (Dagster's
# default): about 3 s less for each check step, and less for every other step too.
executor = dg.multiprocess_executor.configured(
    {
        "start_method": {
            "forkserver": {"preload_modules": ["orchestration.definitions", "great_expectations"]}
        }
    },
    name="forkserver_multiprocess",
)

defs = dg.Definitions(
    assets=[
        *reference_assets,
        *bronze_assets,
        *history_specs(),
        city_model,
        *risk_assets,
        risk_evaluation,
        *share_assets,
        compact_and_vacuum,
    ],
    asset_checks=bronze_quality_checks,
    jobs=[ingest_job],
    schedules=[maintenance_schedule],
    sensors=[landing_sensor],
    resources=resources(),
    executor=executor,
)
