"""dbt sources and staging models, generated from the contracts so that they cannot drift.

`python -m assets.city_model.sources` rewrites `dbt_project/models/staging/_sources.yml` and one
`stg_<system>.sql` per contract. `tests/test_city_model.py` fails when the committed files differ
from what the contracts generate, so a contract change shows up in review as a model change.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from assets.reference_tables import REFERENCE_TABLES
from assets.registry import Contract, load_contracts
from assets.registry.reference import Reference

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
STAGING_DIR = DBT_DIR / "models" / "staging"
SOURCES_FILE = STAGING_DIR / "_sources.yml"
EXPOSURES_FILE = DBT_DIR / "models" / "marts" / "_exposures.yml"
DBT_TYPES = {
    "VARCHAR": "varchar",
    "BIGINT": "bigint",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp with time zone",
    "DATE": "date",
}
LINEAGE = ["_source_file", "_source_line", "_ingested_at", "event_date"]
HEADER = "# Generated from contracts/ by `python -m assets.city_model.sources`; do not edit.\n"
EXPOSURES_HEADER = (
    "# Generated from contracts/consumers.yaml (grants) by `python -m assets.city_model.sources`;"
    " do not edit.\n"
)


def source_table(contract: Contract) -> dict:
    """One bronze table as a dbt source table, its columns typed and tiered."""
    return {
        "name": contract.id,
        "description": f"{contract.name}: {contract.description}",
        "meta": {
            "dagster": {"asset_key": ["bronze", contract.id]},
            "unit": contract.unit,
            "primary_key": list(contract.primary_key),
            "event_time": contract.event_time_column,
            "update_semantics": contract.settings.update_semantics,
        },
        "columns": [
            {
                "name": c.name,
                "description": c.description,
                "data_type": DBT_TYPES[c.physicalType],
                "meta": {"tier": c.tier.value},
            }
            for c in contract.columns
        ],
    }


def source_tables(contract: Contract) -> list[dict]:
    """A contract's bronze tables: the current state, and for records that change state (upsert
    semantics) the history of every state, written by the same asset."""
    current = source_table(contract)
    if contract.settings.update_semantics != "upsert":
        return [current]
    history = {
        **current,
        "name": f"{contract.id}_history",
        "meta": {**current["meta"], "dagster": {"asset_key": ["bronze", f"{contract.id}_history"]}},
        "description": f"Every state of {contract.id} as delivered (one row per key and version).",
    }
    return [current, history]


def sources_doc(contracts: list[Contract]) -> dict:
    """The `bronze` source (one table per contract) and the `reference` source."""
    return {
        "version": 2,
        "sources": [
            {
                "name": "bronze",
                "schema": "bronze",
                "description": "Validated unit data, one table per contract (views over Delta).",
                "tables": [t for c in contracts for t in source_tables(c)],
            },
            {
                "name": "reference",
                "schema": "reference",
                "description": "Reference data: areas, departments, units, the event taxonomy.",
                "tables": [
                    {
                        "name": name,
                        "description": description,
                        "meta": {"dagster": {"asset_key": ["reference", f"ref_{name}"]}},
                    }
                    for name, (description, _) in REFERENCE_TABLES.items()
                ],
            },
        ],
    }


def staging_sql(contract: Contract) -> str:
    """`stg_<system>`: the contract's columns and lineage, one row per key (the latest load)."""
    key = list(contract.primary_key)
    version = contract.settings.version_column
    if contract.settings.update_semantics == "append" and version:
        key.append(version)
    columns = ",\n    ".join([f'"{c.name}"' for c in contract.columns] + LINEAGE)
    # event_date first: a record's event time never changes, so this is the same dedupe, and it
    # lets DuckDB push a day's filter through the window to the partition files it reads.
    partition = ", ".join(["event_date", *(f'"{k}"' for k in key)])
    return (
        f"-- Generated from contracts/systems/{contract.id}.yaml by "
        f"`python -m assets.city_model.sources`; do not edit.\n"
        f"-- {contract.name}: one row per {', '.join(key)} "
        f"(a re-sent record keeps its latest load).\n"
        f"select\n    {columns}\n"
        f"from {{{{ source('bronze', '{contract.id}') }}}}\n"
        f"qualify row_number() over (\n"
        f"    partition by {partition} order by _ingested_at desc, _source_line desc\n"
        f") = 1\n"
    )


def exposures_doc(reference: Reference) -> dict:
    """One dbt exposure per share (contracts/consumers.yaml), on the marts and risk tables it
    publishes: what each mart feeds outside the city model."""
    exposures = []
    for grant in reference.grants:
        consumer = reference.consumer(grant.consumer)
        tables = [t for s in grant.schemas for t in s.tables]
        exposures.append(
            {
                "name": f"share_{grant.share}",
                "label": f"Share {grant.share} for {consumer.name_zh}",
                "type": "application",
                "description": f"Delta Sharing share for {consumer.code} (clearance "
                f"{consumer.clearance.value}, jurisdiction {consumer.jurisdiction}), "
                f"published by the asset shares/{grant.share}.",
                "owner": {"name": "data-sharing", "email": "data-sharing@citybrain.local"},
                "depends_on": [
                    f"ref('{t.split('/')[1]}')"
                    if t.startswith("gold/")
                    else f"source('risk', '{t.split('/')[1]}')"
                    for t in tables
                ],
                "meta": {"consumer": consumer.code, "clearance": consumer.clearance.value},
            }
        )
    return {"version": 2, "exposures": exposures}


def generated_files(contracts: list[Contract] | None = None) -> dict[Path, str]:
    """Every generated file and its content."""
    contracts = contracts if contracts is not None else load_contracts()
    doc = yaml.safe_dump(sources_doc(contracts), allow_unicode=True, sort_keys=False, width=100)
    files = {SOURCES_FILE: HEADER + doc}
    exposures = exposures_doc(Reference())
    files[EXPOSURES_FILE] = EXPOSURES_HEADER + yaml.safe_dump(
        exposures, allow_unicode=True, sort_keys=False, width=100
    )
    files.update({STAGING_DIR / f"stg_{c.id}.sql": staging_sql(c) for c in contracts})
    return files


def main() -> int:
    """Rewrite the generated files; remove staging models of contracts that no longer exist."""
    files = generated_files()
    for stale in STAGING_DIR.glob("stg_*.sql"):
        if stale not in files:
            stale.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} generated files under {DBT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
