"""The tier of every column a share can publish, carried from the contracts through dbt lineage.

A mart column takes the highest tier of the columns of the same name in the sources it is built
from (walking dbt's manifest down to the bronze and risk sources, whose columns carry their
contract's or model's tier). A column with no namesake upstream (a count, a renamed or derived
value) takes the tier the mart declares (`meta.tier`), and a column declared `declassified` in
its `meta` (with the reason) takes the tier it declares. Risk tables' tiers are set by the models
(`RISK_TIERS`).
"""

from __future__ import annotations

import json
from functools import cache

from assets.registry import Tier
from assets.risk.risk_assets import RISK_TIERS

PROJECT = "citybrain"


@cache
def manifest() -> dict:
    """The city model's dbt manifest."""
    from assets.city_model.dbt_assets import CITY_MODEL

    return json.loads(CITY_MODEL.manifest_path.read_text(encoding="utf-8"))


def upstream_tiers(node_id: str, seen: set[str] | None = None) -> dict[str, Tier]:
    """Column name -> highest tier among the sources `node_id` is built from."""
    seen = seen if seen is not None else set()
    found: dict[str, Tier] = {}
    for parent in manifest()["nodes"].get(node_id, {}).get("depends_on", {}).get("nodes", []):
        if parent in seen:
            continue
        seen.add(parent)
        if parent.startswith("source."):
            tiers = source_tiers(manifest()["sources"][parent])
        else:
            tiers = upstream_tiers(parent, seen)
        for column, tier in tiers.items():
            if column not in found or tier.rank > found[column].rank:
                found[column] = tier
    return found


def source_tiers(source: dict) -> dict[str, Tier]:
    """A dbt source's column tiers: from its YAML meta, or the risk model's."""
    if source["source_name"] == "risk":
        return {c: Tier(t) for c, t in RISK_TIERS[source["name"]].items()}
    return {
        name: Tier(column["meta"]["tier"])
        for name, column in source["columns"].items()
        if "tier" in column.get("meta", {})
    }


def mart_tiers(mart: str, columns: list[str]) -> dict[str, Tier]:
    """The tier of each of a gold mart's `columns`."""
    node = manifest()["nodes"].get(f"model.{PROJECT}.{mart}")
    if node is None:
        raise KeyError(f"gold/{mart} is not a model of the city model")
    declared = Tier(node["config"]["meta"]["tier"])
    upstream = upstream_tiers(node["unique_id"])
    tiers = {}
    for column in columns:
        meta = node["columns"].get(column, {}).get("meta", {})
        if "declassified" in meta:
            tiers[column] = Tier(meta.get("tier", declared.value))
        else:
            tiers[column] = upstream.get(column, declared)
    return tiers


def table_tiers(zone: str, name: str, columns: list[str]) -> dict[str, Tier]:
    """The tier of each column of `gold/<mart>` or `risk/<model>`."""
    if zone == "risk":
        return {c: Tier(RISK_TIERS[name].get(c, "L2")) for c in columns}
    return mart_tiers(name, columns)
