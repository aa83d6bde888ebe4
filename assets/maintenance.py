"""Lake upkeep: compact the small files ingestion leaves behind, then vacuum old ones."""

import dagster as dg
from deltalake import DeltaTable
from pyarrow import fs

from assets.lake import LakeResource

ZONES = ("bronze", "quarantine", "ledger")


class MaintenanceConfig(dg.Config):
    """Vacuum removes files unreferenced for longer than this (time travel stops there)."""

    retention_hours: int = 168


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
)
def compact_and_vacuum(
    context: dg.AssetExecutionContext, config: MaintenanceConfig, lake: LakeResource
) -> dg.MaterializeResult:
    """Run OPTIMIZE (compact) and VACUUM on every ingestion table."""
    compacted = removed = 0
    for zone in ZONES:
        for uri in tables_in(lake, zone):
            table = DeltaTable(uri, storage_options=lake.storage_options)
            metrics = table.optimize.compact()
            deleted = table.vacuum(
                retention_hours=config.retention_hours,
                dry_run=False,
                enforce_retention_duration=config.retention_hours >= 168,
            )
            compacted += metrics.get("numFilesRemoved", 0)
            removed += len(deleted)
            context.log.info(
                f"{uri}: compacted {metrics.get('numFilesRemoved', 0)}, vacuumed {len(deleted)}"
            )
    return dg.MaterializeResult(
        metadata={
            "files_compacted": compacted,
            "files_vacuumed": removed,
            "retention_hours": config.retention_hours,
        }
    )


maintenance_schedule = dg.ScheduleDefinition(
    name="nightly_maintenance",
    target=dg.AssetSelection.assets(compact_and_vacuum),
    cron_schedule="0 3 * * *",
    execution_timezone="Asia/Shanghai",
)
