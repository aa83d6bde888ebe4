"""Reference tables in the lake: the contract registry's columns and tiers, the area hierarchy,
departments, units, the event taxonomy and the consumers. Rebuilt from `contracts/` on each run."""

from collections.abc import Callable

import dagster as dg
import pyarrow as pa
from deltalake import write_deltalake

from assets.lake import LakeResource
from assets.registry import load_contracts
from assets.registry.reference import Reference

OWNER = "team:city-data-office"


def contract_columns() -> pa.Table:
    """One row per column of every contract: type, required, key, tier, description."""
    rows = [
        {
            "system": c.id,
            "unit": c.unit,
            "column_name": col.name,
            "physical_type": col.physicalType,
            "required": col.required,
            "primary_key": col.primaryKey,
            "tier": col.tier.value,
            "description": col.description,
            "contract_version": c.version,
        }
        for c in load_contracts()
        for col in c.columns
    ]
    return pa.Table.from_pylist(rows)


def models_table(rows: list) -> pa.Table:
    """A table from pydantic rows, lists flattened to comma-separated text."""
    flat = [
        {k: ",".join(v) if isinstance(v, list) else v for k, v in r.model_dump(mode="json").items()}
        for r in rows
    ]
    return pa.Table.from_pylist(flat)


REFERENCE_TABLES: dict[str, tuple[str, Callable[[Reference], pa.Table]]] = {
    "contract_columns": (
        "Every contracted column with its type and tier.",
        lambda r: contract_columns(),
    ),
    "streets": ("The 36 streets/towns (approximate).", lambda r: r.typed_csv("streets")),
    "committees": (
        "Residential and village committees.",
        lambda r: r.typed_csv("committees"),
    ),
    "grid_cells": (
        "Grid cells with their committee and street.",
        lambda r: r.typed_csv("grid_cells"),
    ),
    "departments": (
        "Bodies that handle events, with their level.",
        lambda r: models_table(r.departments),
    ),
    "units": ("Units whose systems feed the centre.", lambda r: models_table(r.units)),
    "event_types": (
        "The event taxonomy: dimension, lead, SLA.",
        lambda r: models_table(r.event_types),
    ),
    "consumers": (
        "Consumers with clearance and jurisdiction.",
        lambda r: models_table(r.consumers),
    ),
}


def reference_asset(
    name: str, description: str, build: Callable[[Reference], pa.Table]
) -> dg.AssetsDefinition:
    """An asset that writes one reference table to `<lake>/reference/<name>` as Delta."""

    @dg.asset(
        name=f"ref_{name}",
        key_prefix=["reference"],
        group_name="reference",
        description=description,
        owners=[OWNER],
        kinds={"delta", "python"},
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        table = build(Reference())
        uri = lake.table("reference", name)
        write_deltalake(uri, table, mode="overwrite", schema_mode="overwrite")
        context.log.info(f"wrote {table.num_rows} rows to {uri}")
        return dg.MaterializeResult(
            metadata={"rows": table.num_rows, "path": dg.MetadataValue.path(uri)}
        )

    return _asset


reference_assets = [
    reference_asset(name, desc, build) for name, (desc, build) in REFERENCE_TABLES.items()
]
