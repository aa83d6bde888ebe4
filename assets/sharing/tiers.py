"""The tier of every column a share can publish, carried from the contracts through dbt lineage.

Marts: each city-model build traces the columns of the granted marts through their SQL
(`assets.sharing.lineage`) and keeps the result in `gold/_column_tiers.json`. Before a mart has
been traced, a column takes the highest tier of the columns of the same name in the sources it
is built from (walking dbt's manifest down to the bronze and risk sources), or the tier the mart
declares (`meta.tier`) where no namesake exists. A column declared `declassified` in its `meta`
(with the reason) takes the tier it declares. Risk tables' tiers are set by the models
(`RISK_TIERS`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from assets.lake import LakeResource, read_bytes, write_bytes
from assets.registry import Tier
from assets.risk.outputs import RISK_TIERS

TIERS_FILE = ("gold", "_column_tiers.json")

PROJECT = "citybrain"


@cache
def manifest() -> dict:
    """The city model's dbt manifest (read directly: dagster-dbt takes seconds to import)."""
    from assets.city_model.sources import DBT_DIR

    return json.loads((DBT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))


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


def granted_marts() -> set[str]:
    """The marts some grant shares."""
    from assets.registry.reference import Reference

    return {t.split("/")[1] for g in Reference().grants for s in g.schemas for t in s.tables
            if t.startswith("gold/")}  # fmt: skip


def record_column_tiers(lake: LakeResource, build_manifest: Path, marts: list[str]) -> list[str]:
    """Trace the granted marts among `marts` through the build's SQL; merge into the lake's
    tiers file. The marts traced."""
    from deltalake import DeltaTable

    from assets.sharing.lineage import column_tiers

    wanted = {
        m: [
            f.name
            for f in DeltaTable(lake.table("gold", m), storage_options=lake.storage_options)
            .schema()
            .fields
        ]
        for m in sorted(set(marts) & granted_marts())
    }
    if not wanted or not build_manifest.exists():
        return []
    recorded = read_recorded(lake)
    recorded.update(column_tiers(build_manifest, wanted))
    write_bytes(lake.uri(*TIERS_FILE), json.dumps(recorded, indent=2).encode())
    return sorted(wanted)


def read_recorded(lake: LakeResource) -> dict[str, dict]:
    """The traced tiers the lake keeps (empty before the first build)."""
    data = read_bytes(lake.uri(*TIERS_FILE))
    return json.loads(data.decode("utf-8")) if data is not None else {}


def table_tiers(
    zone: str, name: str, columns: list[str], lake: LakeResource | None = None
) -> dict[str, Tier]:
    """The tier of each column of `gold/<mart>`, `risk/<model>` or `quality/check_results`:
    traced where the lake keeps a trace of the column, else by name (see the module's note)."""
    if zone == "risk":
        return {c: Tier(RISK_TIERS[name].get(c, "L2")) for c in columns}
    if zone == "quality":  # check results: samples are masked to L2 when they are written
        return dict.fromkeys(columns, Tier.L2)
    traced = read_recorded(lake).get(name, {}) if lake is not None else {}
    untraced = [c for c in columns if c not in traced]
    by_name = mart_tiers(name, untraced) if untraced else {}
    return {c: Tier(traced[c]["tier"]) if c in traced else by_name[c] for c in columns}
