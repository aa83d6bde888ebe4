"""Column tiers carried through dbt lineage, as mandatory markings propagate.

For each column of a mart, sqlglot traces the compiled SQL (with every upstream model's SQL as
a source) down to the columns of the bronze, reference and risk tables it is made from. The
column takes the highest tier among them, except where the path runs through an aggregate that
leaves no person behind (count, sum, average...): what comes through it is L1. Columns used to
filter, join or order are part of the trace too, so the tier errs on the high side. Where sqlglot
cannot trace a column, the column keeps the tier its name has upstream or the mart declares,
whichever is higher, and the result says so. A column a mart's YAML marks `declassified` (with
the reason) takes the tier it declares there.

The city model computes the tiers after each build, from the manifest of that build, and keeps
them in `gold/_column_tiers.json` for publishing.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlglot import exp, parse_one
from sqlglot.lineage import Node, lineage

from assets.registry import Tier
from assets.risk.outputs import RISK_TIERS

DECLASSIFYING = (exp.Count, exp.Sum, exp.Avg, exp.Median, exp.Quantile, exp.Stddev, exp.Variance)


def source_column_tiers(manifest: dict) -> dict[tuple[str, str], dict[str, Tier]]:
    """(schema, table) -> column -> tier, for every dbt source."""
    tiers: dict[tuple[str, str], dict[str, Tier]] = {}
    for source in manifest["sources"].values():
        key = (source["schema"], source["name"])
        if source["source_name"] == "risk":
            tiers[key] = {c: Tier(t) for c, t in RISK_TIERS[source["name"]].items()}
        elif source["source_name"] == "reference":
            tiers[key] = {}  # reference data: public codes and names (L1)
        else:
            tiers[key] = {
                name: Tier(col["meta"]["tier"])
                for name, col in source["columns"].items()
                if "tier" in col.get("meta", {})
            }
    return tiers


def sqlglot_schema(manifest: dict) -> dict:
    """The sources' columns, nested as sqlglot wants them (database -> schema -> table)."""
    schema: dict = {}
    for s in manifest["sources"].values():
        if s["columns"]:
            columns = {c: (v.get("data_type") or "varchar") for c, v in s["columns"].items()}
            schema.setdefault(s["database"], {}).setdefault(s["schema"], {})[s["name"]] = columns
    return schema


def traced_tier(node: Node, sources: dict, aggregated: bool = False) -> Tier:
    """The highest tier of the source columns under `node` (L1 below a declassifying aggregate)."""
    aggregated = aggregated or bool(node.expression.find(*DECLASSIFYING))
    if not node.downstream:
        table = node.source if isinstance(node.source, exp.Table) else None
        if aggregated or table is None:
            return Tier.L1
        column = node.name.split(".")[-1].strip('"')
        tiers = sources.get((table.db, table.name))
        if tiers is None:
            return Tier.L1  # not a source table (a literal or a generated series)
        return tiers.get(column, Tier.L2)  # an untiered source column counts as internal
    return max((traced_tier(d, sources, aggregated) for d in node.downstream), key=lambda t: t.rank)


def traced_columns(manifest: dict, node: dict, columns: list[str]) -> dict[str, Node | str]:
    """sqlglot's lineage of each column of a model through the models it is built from, or why
    it could not be traced. All columns at once where sqlglot can, else one at a time."""
    models = {
        n["relation_name"].replace('"', ""): parse_one(n["compiled_code"], dialect="duckdb")
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n.get("compiled_code")
    }
    args = {"schema": sqlglot_schema(manifest), "sources": models, "dialect": "duckdb"}
    try:
        return lineage(None, node["compiled_code"], **args)
    except Exception:  # one column sqlglot cannot follow fails them all: go column by column
        traced: dict[str, Node | str] = {}
        for column in columns:
            try:
                traced[column] = lineage(column, node["compiled_code"], **args)
            except Exception as err:  # sqlglot cannot trace every construct of DuckDB SQL
                traced[column] = type(err).__name__
        return traced


def mart_column_tiers(manifest: dict, mart: str, columns: list[str]) -> dict[str, dict]:
    """column -> {"tier", "how"} for one mart built in this manifest."""
    from assets.sharing.tiers import upstream_tiers  # name-based fallback

    node = manifest["nodes"][f"model.citybrain.{mart}"]
    declared = Tier(node["config"]["meta"]["tier"])
    by_name = upstream_tiers(node["unique_id"])
    sources = source_column_tiers(manifest)
    traced = traced_columns(manifest, node, columns)
    result = {}
    for column in columns:
        meta = node["columns"].get(column, {}).get("meta", {})
        if "declassified" in meta:
            tier, how = (
                Tier(meta.get("tier", declared.value)),
                f"declassified: {meta['declassified']}",
            )
        elif isinstance(traced.get(column), Node):
            tier, how = traced_tier(traced[column], sources), "lineage"
        else:
            tier = max([by_name.get(column, declared), declared], key=lambda t: t.rank)
            how = f"by name (lineage: {traced.get(column, 'not traced')})"
        result[column] = {"tier": tier.value, "how": how}
    return result


def column_tiers(manifest_path: Path, marts: dict[str, list[str]]) -> dict[str, dict]:
    """mart -> column -> {"tier", "how"}, for the marts (with their columns) of a build."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    return {mart: mart_column_tiers(manifest, mart, cols) for mart, cols in marts.items()}
