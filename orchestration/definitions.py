"""The one entry point of the CityBrain code location (`dagster dev` finds it via pyproject)."""

from __future__ import annotations

import dagster as dg

from assets.reference_tables import reference_assets
from orchestration.resources import resources

materialize_everything = dg.define_asset_job(
    "materialize_everything", selection=dg.AssetSelection.all()
)

defs = dg.Definitions(
    assets=[*reference_assets],
    jobs=[materialize_everything],
    resources=resources(),
)
