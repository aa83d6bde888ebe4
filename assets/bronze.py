"""The bronze asset factory: one Dagster asset per contract, with no code specific to a system.

Each asset ingests its system's new landing files (all pending ones, or the paths a sensor run
names) into `bronze/<id>`; its group is the owner unit, its owners the stewards, its metadata the
contract's columns and tiers. A new contract file is a new asset at the next reload.
"""

from datetime import date
from pathlib import Path

import dagster as dg
from pydantic import Field

from assets.ingest.ingest import FileResult, FilesFailed, ingest_landing
from assets.ingest.landing import (
    DELIVERY_ZONE,
    FIRST_DELIVERY_DAY,
    delivery_date,
    landing_files,
)
from assets.lake import LakeResource
from assets.registry import Contract, load_contracts

DELIVERY_DAYS = dg.DailyPartitionsDefinition(
    start_date=FIRST_DELIVERY_DAY.isoformat(), timezone=DELIVERY_ZONE.key, end_offset=1
)
STEWARD_DOMAIN = "citybrain.local"
CHECK_BALANCE = "counts_balance"
CHECK_DRIFT = "no_schema_drift"
EVENT_DATES = "event_dates"  # of the rows this run loaded: the quality checks' scope


class IngestConfig(dg.Config):
    """Which landing files to ingest: the named paths (relative to landing/), else all pending."""

    paths: list[str] = Field(default_factory=list)


def column_schema(contract: Contract) -> dg.TableSchema:
    """The contract's columns, with type, tier and requiredness, for the UI's schema tab."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.physicalType,
                description=f"[{c.tier.value}] {c.description}",
                constraints=dg.TableColumnConstraints(nullable=not c.required),
                tags={"tier": c.tier.value},
            )
            for c in contract.columns
        ]
    )


def bronze_key(contract: Contract) -> dg.AssetKey:
    """`bronze/<id>`."""
    return dg.AssetKey(["bronze", contract.id])


def summary(results: list[FileResult]) -> dict[str, int]:
    """Totals over a run's files."""
    return {
        "files": len(results),
        "files_duplicate": sum(r.status == "duplicate" for r in results),
        "files_quarantined": sum(r.status == "quarantined" for r in results),
        "rows_read": sum(r.rows_read for r in results),
        "rows_loaded": sum(r.rows_loaded for r in results),
        "rows_quarantined": sum(r.rows_quarantined for r in results),
    }


def bronze_asset(contract: Contract) -> dg.AssetsDefinition:
    """The ingest asset of one contract."""
    key = bronze_key(contract)

    @dg.asset(
        key=key,
        group_name=contract.unit,
        owners=[f"{s}@{STEWARD_DOMAIN}" for s in contract.stewards],
        kinds={"delta", contract.settings.file_format.split("_")[0]},
        description=f"{contract.name}: {contract.description}",
        partitions_def=DELIVERY_DAYS,
        tags={"layer": "bronze", "max_tier": contract.max_tier.value},
        metadata={
            "dagster/column_schema": column_schema(contract),
            "contract": dg.MetadataValue.path(contract.source_path),
            "landing_patterns": ", ".join(contract.settings.landing_patterns),
            "update_semantics": contract.settings.update_semantics,
            "freshness_hours": contract.freshness_hours,
        },
        check_specs=[
            dg.AssetCheckSpec(
                CHECK_BALANCE,
                asset=key,
                blocking=True,
                description="Every file: rows read = loaded + quarantined.",
            ),
            dg.AssetCheckSpec(
                CHECK_DRIFT, asset=key, description="Files carry no fields outside the contract."
            ),
        ],
    )
    def _ingest(context: dg.AssetExecutionContext, config: IngestConfig, lake: LakeResource):
        only = set(config.paths) or None
        if only is None and context.has_partition_key:
            only = delivered_on(lake, contract, date.fromisoformat(context.partition_key))
        failure = None
        try:
            results = ingest_landing(contract, lake, context.run.run_id, only, logger(context))
        except FilesFailed as err:  # the others went in: report them, then fail the step
            results, failure = err.results, err
        totals = summary(results)
        warnings = sorted({w for r in results for w in r.warnings})
        for warning in warnings:
            context.log.warning(f"{contract.id}: {warning}")
        unbalanced = [r.path for r in results if r.rows_read != r.rows_loaded + r.rows_quarantined]
        yield dg.MaterializeResult(
            metadata={
                **totals,
                "path": dg.MetadataValue.path(lake.table("bronze", contract.id)),
                "quarantine": dg.MetadataValue.path(lake.table("quarantine", contract.id)),
                "data_docs": dg.MetadataValue.path(str(docs_dir(lake, contract.id) / "index.html")),
                "schema_warnings": "; ".join(warnings) or "none",
                EVENT_DATES: ", ".join(sorted({str(d) for r in results for d in r.event_dates})),
            }
        )
        yield dg.AssetCheckResult(
            check_name=CHECK_BALANCE,
            passed=not unbalanced,
            metadata={"unbalanced_files": ", ".join(unbalanced) or "none", **totals},
        )
        yield dg.AssetCheckResult(
            check_name=CHECK_DRIFT,
            passed=not warnings,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"warnings": "; ".join(warnings) or "none"},
        )
        if failure:
            raise dg.Failure(description=str(failure)) from failure

    return _ingest


def docs_dir(lake: LakeResource, table: str) -> Path:
    """Where a table's Data Docs are built: on this machine, also for a lake on S3 (Great
    Expectations writes local files)."""
    return lake.local("quality", "data_docs", table)


def delivered_on(lake: LakeResource, contract: Contract, day: date) -> set[str]:
    """Landing paths of the contract whose file arrived on `day` (Shanghai time, by mtime)."""
    return {
        rel
        for path, rel in landing_files(lake.landing_root, contract)
        if delivery_date(path) == day
    }


def logger(context: dg.AssetExecutionContext):
    """Progress in the run log: every file that is quarantined or a duplicate, and every 50th."""

    def log(done: int, total: int, result: FileResult) -> None:
        if result.status != "loaded" or done % 50 == 0 or done == total:
            context.log.info(
                f"[{done}/{total}] {result.path}: {result.status}, read {result.rows_read}, "
                f"loaded {result.rows_loaded}, quarantined {result.rows_quarantined}"
                + (f" ({result.reason})" if result.reason else "")
            )

    return log


bronze_assets = [bronze_asset(c) for c in load_contracts()]
