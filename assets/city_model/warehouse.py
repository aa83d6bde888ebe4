"""The DuckDB warehouse dbt builds in: its views over the lake, and its marts copied to gold.

Before each dbt build, `refresh_lake_views` points the `bronze`, `reference` and `risk`
schemas at the current snapshot of every Delta table (through the one DuckDB reader,
`assets.delta_scan`); a table not loaded yet is an empty view with its columns (from its
contract or its risk schema), so the model builds on a partial lake. After it, `export_marts`
writes each mart to `gold/<mart>` as Delta for sharing.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
from deltalake import write_deltalake

from assets.city_model.sources import DBT_TYPES
from assets.delta_scan import duckdb_scan, register_lake
from assets.lake import LakeResource
from assets.reference_tables import REFERENCE_TABLES
from assets.registry import Contract, load_contracts
from assets.risk.outputs import RISK_OUTPUTS
from assets.risk.store import ZONE, stored_schema

LINEAGE_TYPES = {
    "_source_file": "varchar",
    "_source_line": "bigint",
    "_source_hash": "varchar",
    "_batch_id": "varchar",
    "_ingested_at": "timestamp with time zone",
    "event_date": "date",
}


def warehouse_path(lake: LakeResource) -> Path:
    """The DuckDB file of the city model (a local file: dbt-duckdb needs one; on an object-store
    lake its views read the lake through fsspec, see profiles.yml)."""
    path = lake.local("warehouse", "citybrain.duckdb")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def empty_view_sql(contract: Contract) -> str:
    """A typed, empty stand-in for a bronze table that has no rows yet."""
    columns = [f'CAST(NULL AS {DBT_TYPES[c.physicalType]}) AS "{c.name}"' for c in contract.columns]
    columns += [f"CAST(NULL AS {kind}) AS {name}" for name, kind in LINEAGE_TYPES.items()]
    return f"(SELECT {', '.join(columns)} WHERE false)"


def empty_arrow_sql(schema: pa.Schema) -> str:
    """A typed, empty stand-in for a Delta table written from Arrow (the risk results)."""
    empty = duckdb.from_arrow(schema.empty_table())
    pairs = zip(empty.columns, empty.types, strict=True)
    columns = [f'CAST(NULL AS {kind}) AS "{name}"' for name, kind in pairs]
    return f"(SELECT {', '.join(columns)} WHERE false)"


def lake_views(lake: LakeResource, contracts: list[Contract]) -> dict[str, str]:
    """`schema.view` -> the SQL it selects from, for every bronze, reference and risk table."""
    views = {}
    for c in contracts:
        names = [c.id] + ([f"{c.id}_history"] if c.settings.update_semantics == "upsert" else [])
        for name in names:
            scan = duckdb_scan(lake, "bronze", name)
            views[f"bronze.{name}"] = scan.sql if scan else empty_view_sql(c)
    for name in REFERENCE_TABLES:
        scan = duckdb_scan(lake, "reference", name)
        if scan is None:
            raise ValueError(f"reference/{name} is not materialised: run the reference assets")
        views[f"reference.{name}"] = scan.sql
    for name, schema in RISK_OUTPUTS.items():
        scan = duckdb_scan(lake, ZONE, name)
        views[f"{ZONE}.{name}"] = scan.sql if scan else empty_arrow_sql(stored_schema(schema))
    return views


def refresh_lake_views(lake: LakeResource, contracts: list[Contract] | None = None) -> int:
    """Point the warehouse's `bronze` and `reference` views at the lake's current snapshots."""
    views = lake_views(lake, contracts if contracts is not None else load_contracts())
    with duckdb.connect(str(warehouse_path(lake))) as db:
        register_lake(db, lake)
        for schema in ("bronze", "reference", ZONE):
            db.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for name, sql in views.items():
            db.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {sql}")
    return len(views)


def export_marts(lake: LakeResource, marts: list[str]) -> dict[str, int]:
    """Copy marts (`marts.<name>`) from the warehouse to `gold/<name>` as Delta; row counts."""
    counts = {}
    with duckdb.connect(str(warehouse_path(lake)), read_only=True) as db:
        register_lake(db, lake)
        for name in marts:
            reader = db.sql(f"SELECT * FROM marts.{name}").to_arrow_reader(batch_size=100_000)
            write_deltalake(
                lake.table("gold", name),
                reader,
                mode="overwrite",
                schema_mode="overwrite",
                storage_options=lake.storage_options,
            )
            counts[name] = db.sql(f"SELECT count(*) FROM marts.{name}").fetchall()[0][0]
    return counts
