"""Resources of the code location, configured from the environment."""

from __future__ import annotations

import dagster as dg

from assets.city_model.dbt_assets import dbt_resource
from assets.lake import LakeResource
from assets.sharing.publish import KEY_ENV
from assets.sharing.share_assets import ShareKeyResource


def resources() -> dict[str, object]:
    """Every resource the assets use, by key."""
    return {
        "lake": LakeResource.from_env(),
        "dbt": dbt_resource(),
        "share_key": ShareKeyResource(key=dg.EnvVar(KEY_ENV)),
    }
