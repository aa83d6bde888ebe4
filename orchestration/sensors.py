"""The landing sensor: new files start ingest runs, keyed by their content so none runs twice."""

import hashlib
import time
from datetime import datetime

import dagster as dg

from assets.bronze import bronze_key
from assets.ingest.ingest import ledger_states
from assets.ingest.landing import (
    DELIVERY_ZONE,
    SETTLE_SECONDS,
    NameNotUtf8,
    delivery_date,
    delivery_hash,
    is_settled,
    is_utf8_name,
    landing_files,
)
from assets.lake import LakeResource
from assets.registry import PathValuesDiffer, load_contracts


@dg.sensor(
    name="landing_sensor",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts an ingest run per system and delivery day for files not yet in the ledger.",
    target=dg.AssetSelection.groups(*{c.unit for c in load_contracts()}),
)
def landing_sensor(context: dg.SensorEvaluationContext, lake: LakeResource):
    """One run per (system, delivery day) with new files; the run key hashes their contents.
    A file changed within the last `SETTLE_SECONDS` waits for a later tick."""
    contracts = load_contracts()
    ledger = lake.table("ledger", "files")
    states = ledger_states(ledger, [c.id for c in contracts], lake.storage_options)
    now, waiting = time.time(), 0
    for contract in contracts:
        state = states[contract.id]
        by_day: dict[str, list[tuple[str, str]]] = {}
        for path, rel in landing_files(lake.landing_root, contract):
            try:
                if not state.is_new(path, rel):
                    continue
                if not is_settled(path, now):
                    waiting += 1  # still being written, perhaps: taken on a later tick
                    continue
                if not is_utf8_name(rel):  # no run request can carry it: said, then left
                    context.log.warning(f"{contract.id}: {NameNotUtf8(rel)}")
                    continue
                digest, _ = delivery_hash(contract, path, rel)
                by_day.setdefault(delivery_date(path).isoformat(), []).append((rel, digest))
            except PathValuesDiffer as err:  # the contract's to fix: said, then left
                context.log.warning(f"{contract.id}: {err}")
            except FileNotFoundError:  # removed since the listing: nothing to take
                continue
        for day, files in sorted(by_day.items()):
            # Paths too: a copy re-sent under a new name needs its own run (to be ledgered a
            # duplicate); with the content hashes alone it would repeat its original's key,
            # which Dagster skips, and stay pending for ever.
            delivered = "\n".join(sorted(f"{rel}\0{digest}" for rel, digest in files))
            key = hashlib.sha256(delivered.encode()).hexdigest()[:24]
            yield dg.RunRequest(
                run_key=f"{contract.id}:{key}",
                asset_selection=[bronze_key(contract)],
                partition_key=day,
                run_config={
                    "ops": {f"bronze__{contract.id}": {"config": {"paths": [r for r, _ in files]}}}
                },
                tags={
                    "landing_files": str(len(files)),
                    "seen_at": datetime.now(DELIVERY_ZONE).isoformat(),
                },
            )
    if waiting:
        context.log.info(f"{waiting} new file(s) changed in the last {SETTLE_SECONDS} s: next tick")
