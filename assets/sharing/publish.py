"""Publishing a grant: each table of a share, masked to the consumer's clearance and cut to its
jurisdiction, written as Delta to `shares/<share>/<schema>/<table>`, with a manifest and, for
analysts inside the centre, a read-only DuckDB view set.

Above the clearance a column is handled as its tier says (tiers.yaml): kept, dropped, or
tokenised - a keyed SHA-256 of the value, the same for the same value in every table and share
(so tokens still join), with a key from configuration that never enters the repository. A
non-text column that should be tokenised is dropped. Rows outside a street's jurisdiction are
never written; tables are partitioned by street.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from deltalake import DeltaTable, write_deltalake

from assets.delta_scan import connect_lake, duckdb_scan
from assets.lake import LakeResource, write_bytes
from assets.registry import Tier
from assets.registry.reference import Consumer, Grant, Reference
from assets.sharing.tiers import table_tiers

ZONE = "shares"
AREA = "street_code"
TOKEN_PREFIX = "tok_"
KEY_ENV = "CITYBRAIN_SHARE_KEY"  # the tokenising key (never committed)


@dataclass(frozen=True)
class ColumnPlan:
    """What publishing does with one column."""

    name: str
    tier: str
    action: str  # keep, drop or tokenise


def column_plans(
    zone: str,
    name: str,
    types: dict[str, str],
    clearance: Tier,
    reference: Reference,
    lake: LakeResource | None = None,
) -> list[ColumnPlan]:
    """Per column of `zone/name` (column -> DuckDB type): keep, drop or tokenise."""
    tiers = table_tiers(zone, name, list(types), lake)
    plans = []
    for column, kind in types.items():
        tier = tiers[column]
        action = "keep" if tier.rank <= clearance.rank else reference.tiers[tier].above_clearance
        if action == "tokenise" and kind != "VARCHAR":
            action = "drop"  # a token of a number, date or list would not join with anything
        plans.append(ColumnPlan(column, tier.value, action))
    return plans


def select_sql(source: str, plans: list[ColumnPlan], consumer: Consumer) -> str:
    """The query that publishes `source` for `consumer` (parameter $key: the token key)."""
    columns = []
    for p in plans:
        if p.action == "keep":
            columns.append(f'"{p.name}"')
        elif p.action == "tokenise":
            columns.append(
                f"'{TOKEN_PREFIX}' || left(sha256($key || '|' || \"{p.name}\"), 24) AS \"{p.name}\""
            )
    where = "" if consumer.jurisdiction == "district" else f" WHERE {AREA} = $area"
    return f"SELECT {', '.join(columns)} FROM {source}{where}"


def masked_query(
    source: str, plans: list[ColumnPlan], consumer: Consumer, key: str
) -> tuple[str, dict[str, str]]:
    """The query and parameters that read `source` as `consumer` may see it."""
    params = {"key": key} if any(p.action == "tokenise" for p in plans) else {}
    if consumer.jurisdiction != "district":
        params["area"] = consumer.jurisdiction
    return select_sql(source, plans, consumer), params


def publish_table(
    con: duckdb.DuckDBPyConnection,
    lake: LakeResource,
    share: str,
    schema: str,
    table: str,
    consumer: Consumer,
    key: str,
) -> dict:
    """Publish one table of a share; its manifest entry."""
    zone, name = table.split("/")
    types = {c: str(t) for c, t in zip(*describe(con, f"{zone}.{name}"), strict=True)}
    if consumer.jurisdiction != "district" and AREA not in types:
        raise ValueError(
            f"{table} has no {AREA}: it cannot be limited to {consumer.jurisdiction} for "
            f"{consumer.code}; grant it only to district-wide consumers"
        )
    plans = column_plans(zone, name, types, consumer.clearance, Reference(), lake)
    query, params = masked_query(f"{zone}.{name}", plans, consumer, key)
    reader = con.sql(query, params=params).to_arrow_reader(batch_size=100_000)
    target = lake.uri(ZONE, share, schema, name)
    kept = [p.name for p in plans if p.action != "drop"]
    write_deltalake(
        target,
        reader,
        mode="overwrite",
        schema_mode="overwrite",
        partition_by=[AREA] if AREA in kept else None,
        storage_options=lake.storage_options,
    )
    published = DeltaTable(target, storage_options=lake.storage_options)
    source = DeltaTable(lake.table(zone, name), storage_options=lake.storage_options)
    return {
        "schema": schema,
        "table": name,
        "source": table,
        "source_version": source.version(),
        "version": published.version(),
        "rows": published.count(),  # exact: delta-rs records every file's row count
        "columns": [asdict(p) for p in plans],
    }


def describe(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[str], list[str]]:
    """Column names and DuckDB types of a relation."""
    rel = con.sql(f"SELECT * FROM {relation}")
    return rel.columns, [str(t) for t in rel.types]


def publish_grant(lake: LakeResource, grant: Grant, key: str) -> dict:
    """Publish every table of a grant and write its manifest; the manifest."""
    if not key:
        raise ValueError("no token key: set CITYBRAIN_SHARE_KEY (never commit it)")
    consumer = Reference().consumer(grant.consumer)
    sources = [tuple(t.split("/")) for s in grant.schemas for t in s.tables]
    tables = []
    with connect_lake(lake, sources) as con:
        for schema in grant.schemas:
            for table in schema.tables:
                tables.append(
                    publish_table(con, lake, grant.share, schema.name, table, consumer, key)
                )
    manifest = {
        "share": grant.share,
        "consumer": consumer.code,
        "clearance": consumer.clearance.value,
        "jurisdiction": consumer.jurisdiction,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": tables,
    }
    write_bytes(
        lake.uri(ZONE, grant.share, "_manifest.json"),
        json.dumps(manifest, indent=2, ensure_ascii=False).encode(),
    )
    if lake.is_local:
        manifest["view_set"] = str(write_view_set(lake, grant))
    return manifest


def write_view_set(lake: LakeResource, grant: Grant) -> Path:
    """A read-only DuckDB file for analysts inside the centre: one view per table of the share,
    over its published snapshot (`sharing/views/<share>.duckdb`, rebuilt at each publish)."""
    if not lake.is_local:
        raise ValueError("view sets are DuckDB files: they live on a local lake")
    path = Path(lake.uri("sharing", "views", f"{grant.share}.duckdb"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as db:
        for schema in grant.schemas:
            db.execute(f"CREATE SCHEMA {schema.name}")
            for table in schema.tables:
                name = table.split("/")[1]
                scan = duckdb_scan(lake, ZONE, f"{grant.share}/{schema.name}/{name}")
                # Parquet files make a view; a table read through Arrow (no files yet, or a
                # reader feature DuckDB lacks) is copied, since Arrow objects do not persist.
                kind = "TABLE" if scan.arrow else "VIEW"
                for view, data in scan.arrow.items():
                    db.register(view, data)
                db.execute(f"CREATE {kind} {schema.name}.{name} AS SELECT * FROM {scan.sql}")
    path.chmod(0o444)  # analysts read; only the next publish replaces it
    return path
