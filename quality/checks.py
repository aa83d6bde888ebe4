"""The one factory that turns a table's rules into Dagster asset checks.

One multi-asset check per table runs every rule as one Great Expectations validation inside
DuckDB, then one freshness check from the contract's SLA. Critical rules are blocking: when one
fails, Dagster does not run the assets downstream in that run. Each result also goes to the
history table, and the validation to the table's Data Docs. (No `from __future__ import
annotations` here: Dagster reads the `context` annotation when the check is defined.)
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from quality.engine import Outcome, duckdb_checks
from quality.history import append_history, history_rows, masked_sample
from quality.rules import Rule, TableSpec

FRESHNESS = "freshness"
SOURCE_VIEW = "source"


@dataclass
class CheckScope:
    """What one check run reads, as DuckDB table expressions: the rows to check, the whole
    table (for freshness) and the tables rules look codes up in (by view name); any Arrow
    objects those expressions name and fsspec file systems they read through; and where the
    results go."""

    rows_sql: str
    table_sql: str
    partition: str | None
    history_uri: str
    views: dict[str, str] = field(default_factory=dict)
    arrow: dict[str, Any] = field(default_factory=dict)
    filesystems: list[Any] = field(default_factory=list)
    docs_dir: Path | None = None
    storage_options: dict | None = None
    described: str = "whole table"  # the rows checked, for the steward

    def scope_sql(self, table: TableSpec) -> str:
        """The rows the rules check, with the table's own columns only (no rule reads the
        lineage columns)."""
        columns = ", ".join(f'"{c.name}"' for c in table.columns)
        return f"SELECT {columns} FROM {self.rows_sql}"


def check_specs(key: dg.AssetKey, table: TableSpec, rules: list[Rule]) -> list[dg.AssetCheckSpec]:
    """One spec per rule (critical ones blocking), plus freshness where the table has an SLA."""
    specs = [
        dg.AssetCheckSpec(r.name, asset=key, blocking=r.critical, description=r.description)
        for r in rules
    ]
    if table.freshness_hours is not None:
        specs.append(
            dg.AssetCheckSpec(
                FRESHNESS,
                asset=key,
                description=f"Newest {table.event_time} within {table.freshness_hours:g} h (SLA).",
            )
        )
    return specs


def quality_checks(
    key: dg.AssetKey,
    table: TableSpec,
    rules: list[Rule],
    scope: Callable[[dg.AssetCheckExecutionContext], CheckScope],
) -> dg.AssetChecksDefinition:
    """The asset checks of one table; `scope` says, per run, what to read and where to write."""

    @dg.multi_asset_check(
        specs=check_specs(key, table, rules),
        name=f"{key.path[-1]}_quality",
        required_resource_keys={"lake"},
    )
    def _checks(context: dg.AssetCheckExecutionContext) -> Iterator[dg.AssetCheckResult]:
        yield from run_checks(context, key, table, rules, scope(context))

    return _checks


def evaluate(
    table: TableSpec, rules: list[Rule], scope: CheckScope
) -> tuple[list[Outcome], datetime | None]:
    """Every rule's outcome over the scope, and the table's newest event time (freshness)."""
    with duckdb_checks() as checks:
        for filesystem in scope.filesystems:
            checks.db.register_filesystem(filesystem)
        for name, data in scope.arrow.items():
            checks.register(name, data)
        for name, sql in {SOURCE_VIEW: scope.table_sql, **scope.views}.items():
            checks.db.execute(f"CREATE VIEW {name} AS SELECT * FROM {sql}")
        outcomes = checks.validate(table, rules, scope.scope_sql(table), scope.docs_dir)
        newest_sql = f'SELECT max("{table.event_time}") FROM {SOURCE_VIEW}'
        newest = checks.db.sql(newest_sql).fetchall()[0][0]
    return outcomes, newest


def run_checks(
    context: dg.AssetCheckExecutionContext,
    key: dg.AssetKey,
    table: TableSpec,
    rules: list[Rule],
    scope: CheckScope,
) -> Iterator[dg.AssetCheckResult]:
    """Validate, record, and yield one result per spec."""
    outcomes, newest = evaluate(table, rules, scope)
    append_history(
        scope.history_uri,
        history_rows(outcomes, table, scope.partition, context.run.run_id),
        scope.storage_options,
    )
    context.log.info(f"{table.name}: {sum(o.passed for o in outcomes)}/{len(outcomes)} passed")
    for o in outcomes:
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name=o.rule.name,
            passed=o.passed,
            severity=dg.AssetCheckSeverity.ERROR if o.rule.critical else dg.AssetCheckSeverity.WARN,
            description=o.message,
            metadata={
                "unexpected_count": o.unexpected_count,
                "observed_value": o.observed or "",
                "unexpected_sample": dg.MetadataValue.json(masked_sample(o, table)),
                "scope": scope.described,
                **({"data_docs": dg.MetadataValue.path(str(scope.docs_dir / "index.html"))}
                   if scope.docs_dir else {}),
            },
        )  # fmt: skip
    if table.freshness_hours is not None:
        yield freshness_result(key, table, newest)


def freshness_result(
    key: dg.AssetKey, table: TableSpec, newest: datetime | None
) -> dg.AssetCheckResult:
    """Whether the newest event is within the contract's SLA of now (warns when not)."""
    limit = timedelta(hours=table.freshness_hours or 0)
    if newest is not None and newest.tzinfo is None:
        newest = newest.replace(tzinfo=UTC)
    lag = None if newest is None else datetime.now(UTC) - newest
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=FRESHNESS,
        passed=lag is not None and lag <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            "no rows yet"
            if lag is None
            else f"newest {table.event_time} is {lag.total_seconds() / 3600:.1f} h old "
            f"(SLA {table.freshness_hours:g} h)"
        ),
        metadata={"newest": str(newest), "sla_hours": table.freshness_hours},
    )
