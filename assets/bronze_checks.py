"""Quality checks of every bronze table, from its contract, through `quality`'s one factory.

A check run reads the event dates that the latest load touched (the bronze asset's
`event_dates` metadata), so it reads those Delta partitions only, never the whole table; the
reference and bronze tables a rule looks codes up in are views over their Delta tables.
"""

from pathlib import Path

import dagster as dg
from deltalake import DeltaTable

from assets.bronze import EVENT_DATES, bronze_key
from assets.lake import LakeResource
from assets.registry import Contract, load_contracts
from quality.checks import SOURCE_VIEW, CheckScope, quality_checks
from quality.domain import view_name
from quality.rules import ColumnSpec, TableSpec, table_rules

PARTITION = "event_date"


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


def latest_event_dates(
    context: dg.AssetCheckExecutionContext, key: dg.AssetKey
) -> list[str] | None:
    """The event dates of the rows the asset's latest materialisation loaded (None: unknown)."""
    event = context.instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(EVENT_DATES)
    if value is None:
        return None
    return [d.strip() for d in str(value.value or "").split(",") if d.strip()]


def scope_filter(dates: list[str] | None) -> str:
    """SQL for the rows to check: the loaded dates' partitions; nothing if the load added no
    rows; the whole table when what was loaded is unknown."""
    if dates is None:
        return ""
    if not dates:
        return "false"
    return f"{PARTITION} IN ({', '.join(f'DATE {d!r}' for d in dates)})"


def dataset(lake: LakeResource, table: str):
    """A Delta table (`zone/name`) as an Arrow dataset, or None if it does not exist yet."""
    uri = lake.table(*table.split("/"))
    if not DeltaTable.is_deltatable(uri, storage_options=lake.storage_options):
        return None
    return DeltaTable(uri, storage_options=lake.storage_options).to_pyarrow_dataset()


def scope_of(contract: Contract, needs: set[str]):
    """The per-run scope function of a contract's checks."""
    key = bronze_key(contract)

    def scope(context: dg.AssetCheckExecutionContext) -> CheckScope:
        lake: LakeResource = context.resources.lake
        views = {SOURCE_VIEW: dataset(lake, f"bronze/{contract.id}")}
        if views[SOURCE_VIEW] is None:
            raise dg.Failure(f"bronze/{contract.id} has no Delta table yet: materialise it first")
        for table in needs:
            if (found := dataset(lake, table)) is not None:
                views[view_name(table)] = found
        return CheckScope(
            views=views,
            filter_sql=scope_filter(latest_event_dates(context, key)),
            partition=context.run.tags.get("dagster/partition"),
            history_uri=lake.table("quality", "check_results"),
            docs_dir=docs_dir(lake, contract.id),
            storage_options=lake.storage_options,
        )

    return scope


def docs_dir(lake: LakeResource, table: str) -> Path | None:
    """Where a table's Data Docs are built (local lakes; GE writes files)."""
    return Path(lake.uri("quality", "data_docs", table)) if lake.is_local else None


def bronze_checks(contract: Contract) -> dg.AssetChecksDefinition:
    """The quality checks of one bronze table."""
    spec = table_spec(contract)
    rules = table_rules(spec)
    needs = {n for r in rules for n in r.needs}
    return quality_checks(bronze_key(contract), spec, rules, scope_of(contract, needs))


bronze_quality_checks = [bronze_checks(c) for c in load_contracts()]
