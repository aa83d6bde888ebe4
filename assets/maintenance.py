"""Lake upkeep: compact the small files ingestion leaves behind, then vacuum old ones."""

import dagster as dg
from deltalake import DeltaTable
from pyarrow import fs

from assets.ingest.landing import system_lock
from assets.ingest.tables import retried
from assets.lake import LakeResource

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
    with system_lock(lake, MAINTENANCE_LOCK):
        for uri in [uri for zone in ZONES for uri in tables_in(lake, zone)]:
            try:
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


def upkeep(uri: str, lake: LakeResource, retention_hours: int) -> tuple[int, int]:
    """Compact one table, then vacuum it: the files compacted and the files deleted. The table is
    loaded afresh each time: an ingest's commit in between (an upsert rewrites files) makes the
    compaction lose its race, and a retry must see that commit."""
    table = DeltaTable(uri, storage_options=lake.storage_options)
    metrics = table.optimize.compact()
    deleted = table.vacuum(
        retention_hours=retention_hours,
        dry_run=False,
        enforce_retention_duration=retention_hours >= SAFE_RETENTION_HOURS,
        full=True,  # also files no commit names: those of a run killed before its commit
    )
    return metrics.get("numFilesRemoved", 0), len(deleted)


maintenance_schedule = dg.ScheduleDefinition(
    name="nightly_maintenance",
    target=dg.AssetSelection.assets(compact_and_vacuum),
    cron_schedule="0 3 * * *",
    execution_timezone="Asia/Shanghai",
)
