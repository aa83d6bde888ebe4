"""Quality checks of every bronze table, from its contract, through `quality`'s one factory.

A check run reads the event dates that its run's load touched (the bronze asset's
`event_dates` metadata), so it reads those Delta partitions only, never the whole table; the
reference and bronze tables a rule looks codes up in are views over their Delta tables.
"""

import dagster as dg

from assets.bronze import EVENT_DATES, bronze_key, docs_dir
from assets.delta_scan import duckdb_scan
from assets.ingest.validate import PARTITION
from assets.lake import LakeResource
from assets.registry import Contract, load_contracts
from quality.checks import CheckScope, quality_checks
from quality.domain import view_name
from quality.rules import ColumnSpec, TableSpec, table_rules


def table_spec(contract: Contract) -> TableSpec:
    """What the checks need to know of a contract's table."""
    return TableSpec(
        name=contract.id,
        columns=tuple(
            ColumnSpec(
                name=c.name,
                kind=c.physicalType,
                tier=c.tier.value,
                required=c.required,
                valid_values=tuple(c.valid_values) if c.valid_values is not None else None,
                minimum=c.logicalTypeOptions.minimum,
                maximum=c.logicalTypeOptions.maximum,
            )
            for c in contract.columns
        ),
        event_time=contract.event_time_column,
        primary_key=tuple(contract.primary_key),
        key_is_unique=contract.settings.update_semantics == "upsert",
        freshness_hours=contract.freshness_hours,
    )


def loaded_event_dates(
    instance: dg.DagsterInstance, run_id: str, key: dg.AssetKey
) -> list[str] | None:
    """The event dates of the rows the asset's materialisation in this run loaded; in a run of
    the checks alone, its latest materialisation's (None: unknown). Not simply the latest: two
    runs of one system overlap (a backfill, the sensor catching up), and one run's checks would
    read the other's dates, leaving its own rows unchecked."""
    events = instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    mine = [
        e for e in events if e.asset_materialization and e.asset_materialization.asset_key == key
    ]
    event = mine[-1] if mine else instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(EVENT_DATES)
    if value is None:
        return None
    return [d.strip() for d in str(value.value or "").split(",") if d.strip()]


def scope_of(contract: Contract, needs: set[str]):
    """The per-run scope function of a contract's checks."""
    key = bronze_key(contract)

    def scope(context: dg.AssetCheckExecutionContext) -> CheckScope:
        lake: LakeResource = context.resources.lake
        dates = loaded_event_dates(context.instance, context.run.run_id, key)
        rows = duckdb_scan(
            lake, "bronze", contract.id, None if dates is None else (PARTITION, dates)
        )
        whole = duckdb_scan(lake, "bronze", contract.id)
        if rows is None or whole is None:
            raise dg.Failure(f"bronze/{contract.id} has no Delta table yet: materialise it first")
        scans = {view_name(t): s for t in needs if (s := duckdb_scan(lake, *t.split("/")))}
        return CheckScope(
            rows_sql=rows.sql,
            table_sql=whole.sql,
            partition=context.run.tags.get("dagster/partition"),
            history_uri=lake.table("quality", "check_results"),
            views={name: s.sql for name, s in scans.items()},
            arrow={k: v for s in [rows, whole, *scans.values()] for k, v in s.arrow.items()},
            filesystems=[f for f in [lake.duckdb_filesystem()] if f is not None],
            docs_dir=docs_dir(lake, contract.id),
            storage_options=lake.storage_options,
            described=described(dates),
        )

    return scope


def described(dates: list[str] | None) -> str:
    """The rows a check run reads, in words."""
    if dates is None:
        return "whole table (no load recorded)"
    return f"{PARTITION} in {', '.join(dates)}" if dates else "none (the load added no rows)"


def bronze_checks(contract: Contract) -> dg.AssetChecksDefinition:
    """The quality checks of one bronze table."""
    spec = table_spec(contract)
    rules = table_rules(spec)
    needs = {n for r in rules for n in r.needs}
    return quality_checks(bronze_key(contract), spec, rules, scope_of(contract, needs))


bronze_quality_checks = [bronze_checks(c) for c in load_contracts()]
