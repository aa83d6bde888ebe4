"""Roll back a bad load: a system's bronze table back to an earlier Delta version, with
everything that came in after it forgotten, so the corrected files can be delivered again.

    python -m assets.ingest.rollback <system>                  # its versions, newest first
    python -m assets.ingest.rollback <system> --to-version 3   # roll back (asks nothing)

Bronze goes back by Delta time travel (`restore`: a new version, so the rollback itself can be
undone). The files ingested after that version are moved to `landing/.rolled_back/<time>/` (so
that no backfill loads them again unasked) and found in the ledger (one ingest per system at
a time, so a file started after the version's commit was committed after it) and by the content
hashes whose rows leave bronze (maintenance commits without the lock); their rows leave
`bronze/<system>_history` and `quarantine/<system>`, their ledger rows leave the ledger, and one
row in `ledger/rollbacks` records what was undone, by whom and why. Re-run the city model for the
days concerned afterwards.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
from deltalake import DeltaTable

from assets.ingest.ingest import retried
from assets.ingest.landing import system_lock
from assets.ingest.tables import append, by_hash, exists, read_table
from assets.ingest.validate import literal
from assets.lake import LakeResource
from assets.registry import load_contracts

ROLLBACKS_SCHEMA = pa.schema(
    [
        ("system", pa.string()),
        ("from_version", pa.int64()),
        ("to_version", pa.int64()),
        ("files", pa.list_(pa.string())),
        ("rows_removed", pa.int64()),
        ("set_aside", pa.string()),  # where in landing the undone files went
        ("reason", pa.string()),
        ("by", pa.string()),
        ("at", pa.timestamp("us", tz="UTC")),
    ]
)


@dataclass
class Rollback:
    """What a rollback undid."""

    system: str
    from_version: int
    to_version: int
    files: list[str]
    rows_removed: int
    set_aside: str | None = None  # where in landing the undone files went


def versions(lake: LakeResource, system: str) -> list[dict]:
    """The bronze table's commits, newest first: version, time, operation, rows written."""
    table = DeltaTable(lake.table("bronze", system), storage_options=lake.storage_options)
    return [
        {
            "version": h["version"],
            "at": datetime.fromtimestamp(h["timestamp"] / 1000, UTC).isoformat(timespec="seconds"),
            "operation": h.get("operation"),
            "rows": (h.get("operationMetrics") or {}).get("num_added_rows"),
        }
        for h in table.history()
    ]


def files_after(
    lake: LakeResource, system: str, committed_ms: int, left_bronze: set[str]
) -> pa.Table:
    """Ledger rows of the files ingested after a commit: those the system started ingesting
    after `committed_ms`, and those whose rows leave bronze (`left_bronze`, content hashes).
    The second catch a file whose ingest straddled the commit: maintenance commits without the
    system's lock, so a file started before its compaction may have been written after it."""
    after = datetime.fromtimestamp(committed_ms / 1000, UTC).isoformat(timespec="microseconds")
    started = f"started_at > {literal(after)}"
    where = (
        f"{started} OR {by_hash(sorted(left_bronze), 'content_hash')}" if left_bronze else started
    )
    rows = read_table(
        lake.table("ledger", "files"),
        ["path", "content_hash", "status", "batch_id", "rows_loaded"],
        f"system = {literal(system)} AND ({where})",
        lake.storage_options,
    )
    return rows if rows is not None else pa.table({"batch_id": pa.array([], pa.string())})


def source_hashes(lake: LakeResource, system: str, version: int | None = None) -> set[str]:
    """The content hashes of the files whose rows bronze holds (as of `version`, else now)."""
    rows = read_table(
        lake.table("bronze", system), ["_source_hash"], storage_options=lake.storage_options,
        version=version, distinct=True,
    )  # fmt: skip
    return set() if rows is None else set(rows.column(0).drop_null().to_pylist())


def delete_where(lake: LakeResource, zone: str, name: str, predicate: str) -> None:
    """Delete a table's rows matching `predicate` (a new version; nothing if no table). Each
    attempt loads the table afresh: a table object never sees a commit made after it loaded."""
    uri = lake.table(zone, name)
    if exists(uri, lake.storage_options):
        retried(lambda: DeltaTable(uri, storage_options=lake.storage_options).delete(predicate))


def roll_back(lake: LakeResource, system: str, to_version: int, reason: str = "") -> Rollback:
    """Restore `bronze/<system>` to `to_version` and forget every file ingested after it."""
    if system not in {c.id for c in load_contracts()}:
        raise ValueError(f"no contract for system {system!r}")
    uri, options = lake.table("bronze", system), lake.storage_options
    with system_lock(lake, system):  # no ingest of this system meanwhile: read bronze inside
        bronze = DeltaTable(uri, storage_options=options)
        current = bronze.version()
        if not 0 <= to_version < current:
            raise ValueError(
                f"bronze/{system} is at version {current}: roll back to 0..{current - 1}"
            )
        committed = next(h["timestamp"] for h in bronze.history() if h["version"] == to_version)
        leaving = source_hashes(lake, system) - source_hashes(lake, system, to_version)
        undone = files_after(lake, system, committed, leaving).to_pylist()
        # The files first, so that no later run loads them again unasked; bronze last: until
        # it is restored, running the rollback again finds the same files.
        aside = set_aside(lake, sorted({r["path"] for r in undone}))
        try:
            forget(lake, system, undone)
            retried(lambda: DeltaTable(uri, storage_options=options).restore(to_version))
        except Exception as err:
            raise RollbackUnfinished(system, to_version, err) from err
        loaded = [r for r in undone if r["status"] != "duplicate"]
        done = Rollback(
            system, current, to_version, sorted({r["path"] for r in loaded}),
            sum(r["rows_loaded"] or 0 for r in loaded), aside,
        )  # fmt: skip
        record = {
            **done.__dict__,
            "reason": reason,
            "by": getpass.getuser(),
            "at": datetime.now(UTC),
        }
        append(lake.table("ledger", "rollbacks"), pa.Table.from_pylist([record], ROLLBACKS_SCHEMA))
    return done


def set_aside(lake: LakeResource, paths: list[str]) -> str | None:
    """Move the undone files out of landing's reach, into `.rolled_back/<UTC time>/` (hidden
    folders are never walked): left in place, the next backfill of their day would load the
    bad files again. The folder (relative to landing), or None when none of them is there."""
    root = lake.landing_root
    folder = f".rolled_back/{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}"
    moved = False
    for rel in paths:
        if (root / rel).is_file():
            (root / folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).rename(root / folder / rel)
            moved = True
    return folder if moved else None


def forget(lake: LakeResource, system: str, undone: list[dict]) -> None:
    """Remove the undone files' rows from history and quarantine, then their ledger rows."""
    loaded = [r["content_hash"] for r in undone if r["status"] != "duplicate"]
    if loaded:  # content hashes and batch ids are hex: `by_hash` inlines them safely
        delete_where(lake, "bronze", f"{system}_history", by_hash(loaded, "_source_hash"))
        delete_where(lake, "quarantine", system, by_hash(loaded, "source_hash"))
    if undone:
        delete_where(lake, "ledger", "files", by_hash([r["batch_id"] for r in undone], "batch_id"))


class RollbackUnfinished(Exception):
    """A rollback that stopped part way (a write failing after its retries): running the same
    rollback again finishes it."""

    def __init__(self, system: str, to_version: int, err: Exception) -> None:
        super().__init__(
            f"the rollback of bronze/{system} to version {to_version} stopped part way "
            f"({type(err).__name__}: {err}); run the same rollback again to finish it"
        )


def main(argv: list[str] | None = None) -> int:
    """List a system's bronze versions, or roll it back to one."""
    parser = argparse.ArgumentParser(
        prog="python -m assets.ingest.rollback",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("system", help="the contract id, e.g. meter_readings_gas")
    parser.add_argument("--to-version", type=int, help="the bronze version to go back to")
    parser.add_argument("--reason", default="", help="why, for the record in ledger/rollbacks")
    args = parser.parse_args(argv)
    lake = LakeResource.from_env()
    if not exists(lake.table("bronze", args.system), lake.storage_options):
        print(f"no table bronze/{args.system} in {lake.root}", file=sys.stderr)
        return 2
    if args.to_version is None:
        for v in versions(lake, args.system):
            print(json.dumps(v, ensure_ascii=False))
        return 0
    try:
        done = roll_back(lake, args.system, args.to_version, args.reason)
    except (ValueError, RollbackUnfinished) as err:
        print(err, file=sys.stderr)
        return 2
    moved = f", moved to landing/{done.set_aside}" if done.set_aside else ""
    print(f"bronze/{done.system}: version {done.from_version} -> {done.to_version}; "
          f"{len(done.files)} files forgotten ({done.rows_removed:,} rows){moved}; deliver them "
          "again (corrected) and re-run the city model for their days")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
