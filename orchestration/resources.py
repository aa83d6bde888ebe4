"""Resources of the code location, configured from the environment."""

from __future__ import annotations

from assets.city_model.dbt_assets import dbt_resource
from assets.lake import LakeResource


def resources() -> dict[str, object]:
    """Every resource the assets use, by key."""
    return {"lake": LakeResource.from_env(), "dbt": dbt_resource()}
