"""Resources of the code location, configured from the environment."""

from __future__ import annotations

import sys
from pathlib import Path

from dagster_dbt import DbtCliResource

from assets.city_model.dbt_assets import CITY_MODEL
from assets.lake import LakeResource


def resources() -> dict[str, object]:
    """Every resource the assets use, by key."""
    # dbt from this environment, wherever PATH points (Dagster may run without the venv active).
    dbt = DbtCliResource(
        project_dir=CITY_MODEL, dbt_executable=str(Path(sys.executable).parent / "dbt")
    )
    return {"lake": LakeResource.from_env(), "dbt": dbt}
