"""The shared city model as Dagster assets: dbt (dbt-duckdb) models, with dbt tests as checks.

Lineage runs unbroken from contract to mart: every dbt source carries the asset key of the
bronze or reference asset it reads (generated from the contracts), so the UI draws
`bronze/<system>` -> `city_model/stg_<system>` -> ... -> `city_model/<mart>`. A run builds one
delivery day (the partition, passed to dbt as `day`); marts are then copied to `gold/` as Delta.
"""

import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from assets.bronze import DELIVERY_DAYS, bronze_key
from assets.city_model.sources import DBT_DIR
from assets.city_model.warehouse import export_marts, refresh_lake_views, warehouse_path
from assets.lake import LakeResource
from assets.registry import load_contracts
from assets.sharing.tiers import record_column_tiers

CITY_MODEL = DbtProject(project_dir=DBT_DIR)
OWNER = "team:city-model"


def dbt_resource() -> DbtCliResource:
    """dbt from this Python environment, whatever PATH says (Dagster may run without the venv
    activated)."""
    return DbtCliResource(
        project_dir=CITY_MODEL, dbt_executable=str(Path(sys.executable).parent / "dbt")
    )


# The manifest is made by `make` whenever a model changes (`dbt parse`); a checkout used
# without make parses once here.
if not CITY_MODEL.manifest_path.exists():
    dbt_resource().cli(["parse"], target_path=CITY_MODEL.target_path).wait()


def history_specs() -> list[dg.AssetSpec]:
    """`bronze/<id>_history`: every state of records that change state, written by the bronze
    asset `bronze/<id>` alongside the current state (the closed loop reads it)."""
    return [
        dg.AssetSpec(
            ["bronze", f"{c.id}_history"],
            deps=[bronze_key(c)],
            group_name=c.unit,
            description=f"Every state of {c.id} as delivered; written by bronze/{c.id}.",
            kinds={"delta"},
            tags={"layer": "bronze_history"},
        )
        for c in load_contracts()
        if c.settings.update_semantics == "upsert"
    ]


class CityModelTranslator(DagsterDbtTranslator):
    """dbt models as `city_model/<name>`, grouped by layer; sources keep their bronze keys."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        """Models and seeds under `city_model/`; sources as their meta says (bronze, reference)."""
        if dbt_resource_props["resource_type"] == "source":
            return super().get_asset_key(dbt_resource_props)
        return dg.AssetKey(["city_model", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str:
        """`city_staging`, `city_intermediate`, `city_marts` (seeds with the marts' inputs)."""
        layer = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else "seeds"
        return f"city_{layer}"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> list[str]:
        """The city-model team, unless a model names its own owner."""
        owner = dbt_resource_props.get("meta", {}).get("owner")
        return [owner] if owner else [OWNER]


def mart_names(selected: set[dg.AssetKey]) -> list[str]:
    """The marts among the assets a run materialises."""
    manifest = json.loads(CITY_MODEL.manifest_path.read_text(encoding="utf-8"))
    return sorted(
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model"
        and node["fqn"][1] == "marts"
        and dg.AssetKey(["city_model", node["name"]]) in selected
    )


@dbt_assets(
    manifest=CITY_MODEL.manifest_path,
    dagster_dbt_translator=CityModelTranslator(),
    partitions_def=DELIVERY_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),  # a range of days is one dbt build
    name="city_model",
)
def city_model(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, lake: LakeResource
) -> Iterator[Any]:
    """`dbt build` of the selected models for the run's days, then the marts to gold."""
    os.environ["CITYBRAIN_WAREHOUSE"] = str(warehouse_path(lake))
    os.environ["CITYBRAIN_DBT_TARGET"] = "local" if lake.is_local else "object_store"
    views = refresh_lake_views(lake)
    context.log.info(f"warehouse: {views} views over the lake refreshed")
    days = {}
    if context.has_partition_key_range or context.has_partition_key:
        keys = context.partition_key_range  # one day is a range of one
        days = {"day_from": keys.start, "day_to": keys.end}
    invocation = dbt.cli(["build", "--vars", json.dumps(days)], context=context)
    yield from invocation.stream()
    marts = mart_names(set(context.selected_asset_keys))
    counts = export_marts(lake, marts)
    context.log.info(f"gold: {counts}")
    traced = record_column_tiers(lake, invocation.target_path / "manifest.json", marts)
    context.log.info(f"column tiers traced through lineage for {traced}")
    shutil.rmtree(invocation.target_path, ignore_errors=True)  # one folder per build otherwise
