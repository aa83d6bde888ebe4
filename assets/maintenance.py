"""Lake upkeep: compact the small files ingestion leaves behind, then vacuum old ones."""

from contextlib import AbstractContextManager, nullcontext

import dagster as dg
from deltalake import DeltaTable
from pyarrow import fs

from assets.ingest.ingest import system_tables
from assets.ingest.landing import system_lock
from assets.ingest.tables import retried
from assets.lake import LakeResource
from assets.registry import load_contracts

ZONES = ("bronze", "quarantine", "ledger")
SAFE_RETENTION_HOURS = 168  # delta-rs's default: a week of time travel, readers never cut off
MAINTENANCE_LOCK = "_maintenance"  # a lock name no contract id takes (ids start with a letter)
MAINTENANCE_POOL = "lake_maintenance"  # limit 1 in the instance's dagster.yaml (see Makefile)


class MaintenanceConfig(dg.Config):
    """Vacuum removes files unreferenced for longer than this (time travel stops there)."""

    retention_hours: int = SAFE_RETENTION_HOURS


def tables_in(lake: LakeResource, zone: str) -> list[str]:
    """Delta tables directly under a zone, on a local disk or an object store."""
    filesystem, folder = fs.FileSystem.from_uri(lake.uri(zone))
    found = filesystem.get_file_info(fs.FileSelector(folder, allow_not_found=True))
    candidates = [lake.uri(zone, f.base_name) for f in found if f.type == fs.FileType.Directory]
    return sorted(
        uri for uri in candidates
        if DeltaTable.is_deltatable(uri, storage_options=lake.storage_options)
    )  # fmt: skip


@dg.asset(
    key=["maintenance", "compact_and_vacuum"],
    group_name="maintenance",
    owners=["team:city-data-office"],
    kinds={"delta", "python"},
    description="Compacts small files of bronze, quarantine and the ledger; vacuums old files.",
    pool=MAINTENANCE_POOL,  # one at a time across the instance's runs, on any machine
)
def compact_and_vacuum(
    context: dg.AssetExecutionContext, config: MaintenanceConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Run OPTIMIZE (compact) and VACUUM on every ingestion table. A table that fails does not
    hold back the others; the run then fails naming it."""
    compacted = removed = 0
    failed: list[str] = []
    if config.retention_hours < SAFE_RETENTION_HOURS:  # delta-rs refuses it unless told
        context.log.warning(
            f"retention_hours {config.retention_hours} < {SAFE_RETENTION_HOURS}: vacuum may "
            "delete files a running reader or a rollback still needs"
        )
    # One upkeep at a time: delta-rs lets two compactions of one table both commit (each removes
    # the same small files, adds its own copy of their rows), doubling the rows.
    owners = {uri: c.id for c in load_contracts() for uri in system_tables(lake, c.id)}
    with system_lock(lake, MAINTENANCE_LOCK):
        for uri in [uri for zone in ZONES for uri in tables_in(lake, zone)]:
            try:
                with owned(lake, owners.get(uri)):
                    files_compacted, files_vacuumed = retried(
                        lambda uri=uri: upkeep(uri, lake, config.retention_hours)
                    )
            except Exception as err:  # any error: said, the other tables still kept up
                context.log.error(f"{uri}: {type(err).__name__}: {err}")
                failed.append(uri)
                continue
            compacted += files_compacted
            removed += files_vacuumed
            context.log.info(f"{uri}: compacted {files_compacted}, vacuumed {files_vacuumed}")
    if failed:
        raise dg.Failure(f"{len(failed)} table(s) not kept up (see the log): {', '.join(failed)}")
    return dg.MaterializeResult(
        metadata={
            "files_compacted": compacted,
            "files_vacuumed": removed,
            "retention_hours": config.retention_hours,
        }
    )


def owned(lake: LakeResource, system: str | None) -> AbstractContextManager:
    """Hold the system's ingest lock while its tables are kept up. An ingest re-run removes the
    files of its earlier attempt in its commit: had a compaction removed them in between,
    delta-rs would let both commits stand, and the rows would be doubled. (A table of no
    contract today, such as the ledger, needs no lock: merges conflict with compactions.)"""
    return system_lock(lake, system) if system else nullcontext()


def upkeep(uri: str, lake: LakeResource, retention_hours: int) -> tuple[int, int]:
    """Compact one table, then vacuum it: the files compacted and the files deleted. The table is
    loaded afresh each time: an ingest's commit in between (an upsert rewrites files) makes the
    compaction lose its race, and a retry must see that commit."""
    table = DeltaTable(uri, storage_options=lake.storage_options)
    metrics = table.optimize.compact()
    return metrics.get("numFilesRemoved", 0), vacuum(table, retention_hours)


def vacuum(table: DeltaTable, retention_hours: int) -> int:
    """Delete the files the table's commits removed longer ago than the retention, and files no
    commit names (a run killed before its commit) once SAFE_RETENTION_HOURS old at least: an
    ingest writes its files before the commit that adds them, which a short retention would
    not wait for. The number of files deleted."""
    deleted = []
    if retention_hours < SAFE_RETENTION_HOURS:  # delta-rs refuses it unless told
        deleted += table.vacuum(retention_hours, dry_run=False, enforce_retention_duration=False)
    hours = max(retention_hours, SAFE_RETENTION_HOURS)
    return len(deleted + table.vacuum(hours, dry_run=False, full=True))


maintenance_schedule = dg.ScheduleDefinition(
    name="nightly_maintenance",
    target=dg.AssetSelection.assets(compact_and_vacuum),
    cron_schedule="0 3 * * *",
    execution_timezone="Asia/Shanghai",
)
