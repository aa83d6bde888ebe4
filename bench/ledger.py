"""Ledger benchmark: does reading the ledger stay cheap as a month of deliveries accumulates?

Every ingest run, and the landing sensor every minute, reads each system's ledger rows (which
hashes and paths it has taken in). The ledger gets one small file per system per run. Here 40
systems deliver 12 files a day for 30 days, one ledger write per system and day, as the
ingest writes it (a merge that adds only rows the ledger lacks); at days 1, 7 and 30 every
system's state is read, and that day's writes are timed. The baseline is day 1 in the same
process: the figures are how many times longer a later day's read and writes take.

    python -m bench ledger                 # writes bench/results/ledger.json
    DAYS=7 python -m bench.ledger
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from bench.harness import peak_rss_mb, save

DAYS = int(os.environ.get("DAYS", "30"))
SYSTEMS = 40
FILES_A_DAY = 12
CHECKPOINTS = sorted({1, 7, DAYS} & set(range(1, DAYS + 1)))


def ledger_rows(system: str, files: int) -> pa.Table:
    """One ingest run's ledger rows for a system."""
    from assets.ingest.tables import LEDGER_SCHEMA

    now = datetime.now(UTC)
    run = {"run_id": "bench", "started_at": now, "finished_at": now, "status": "loaded"}
    counts = {"size_bytes": 1000, "rows_read": 10, "rows_loaded": 10, "rows_quarantined": 0}
    rows = [
        {
            "system": system,
            "path": f"{system}/{uuid.uuid4().hex}.csv",
            "content_hash": uuid.uuid4().hex * 2,
            "batch_id": uuid.uuid4().hex,
            **run,
            **counts,
        }
        for _ in range(files)
    ]
    return pa.Table.from_pylist(rows, LEDGER_SCHEMA)


def run() -> dict:
    """Write day by day; at each checkpoint, time that day's writes and reading every system's
    ledger state."""
    from deltalake import DeltaTable

    from assets.ingest.ingest import ledger_state
    from assets.ingest.tables import record_files

    root = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    uri = str(root / "ledger" / "files")
    systems = [f"system_{i:02d}" for i in range(SYSTEMS)]
    runs = []
    try:
        for day in range(1, DAYS + 1):
            start = time.perf_counter()
            for system in systems:
                record_files(uri, ledger_rows(system, FILES_A_DAY))
            written = time.perf_counter() - start
            if day not in CHECKPOINTS:
                continue
            start = time.perf_counter()
            known = sum(len(ledger_state(uri, s).hashes) for s in systems)
            seconds = time.perf_counter() - start
            assert known == day * SYSTEMS * FILES_A_DAY
            table = DeltaTable(uri)
            runs.append({
                "day": day, "ledger_rows": known, "ledger_files": len(table.file_uris()),
                "versions": table.version() + 1, "read_all_s": round(seconds, 3),
                "ratio_to_day_1": round(seconds / runs[0]["read_all_s"], 2) if runs else 1.0,
                "write_all_s": round(written, 3),
                "write_ratio_to_day_1": round(written / runs[0]["write_all_s"], 2) if runs else 1.0,
            })  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    payload = {
        "systems": SYSTEMS, "files_a_day": FILES_A_DAY, "runs": runs,
        "peak_mb": round(peak_rss_mb(), 1),
    }  # fmt: skip
    save("ledger", payload)
    return payload


if __name__ == "__main__":
    print(run())
