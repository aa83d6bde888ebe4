"""The audit log of the sharing server: every request, refused ones too, as rows of the Delta
table `audit/share_access`. Requests queue their row; a writer thread appends them in batches
(a Delta commit per request would cost more than the request), and `close` writes what is left.
"""

from __future__ import annotations

import queue
import threading
from datetime import UTC, datetime

import pyarrow as pa
from deltalake import write_deltalake

from assets.lake import LakeResource

TABLE = ("audit", "share_access")
SCHEMA = pa.schema(
    [
        ("at", pa.timestamp("us", tz="UTC")),
        ("recipient", pa.string()),
        ("token_id", pa.string()),
        ("method", pa.string()),
        ("path", pa.string()),
        ("share", pa.string()),
        ("schema", pa.string()),
        ("table", pa.string()),
        ("version", pa.int64()),
        ("files", pa.int64()),
        ("bytes", pa.int64()),
        ("status", pa.int32()),
        ("outcome", pa.string()),
    ]
)
FLUSH_SECONDS = 1.0


class AuditLog:
    """Queue rows from any thread; a single writer appends them to Delta."""

    def __init__(self, lake: LakeResource) -> None:
        self.lake = lake
        self.rows: queue.Queue[dict | None] = queue.Queue()
        self.writer = threading.Thread(target=self.run, name="audit-writer", daemon=True)
        self.writer.start()

    def record(self, **row: object) -> None:
        """One request's row (missing fields are empty)."""
        self.rows.put({name: row.get(name) for name in SCHEMA.names} | {"at": datetime.now(UTC)})

    def run(self) -> None:
        """Append queued rows every FLUSH_SECONDS until `close`."""
        done = False
        while not done:
            batch = []
            try:
                item = self.rows.get(timeout=FLUSH_SECONDS)
                while True:
                    if item is None:
                        done = True
                        break
                    batch.append(item)
                    item = self.rows.get_nowait()
            except queue.Empty:
                pass
            if batch:
                self.append(batch)

    def append(self, batch: list[dict]) -> None:
        """Write one batch."""
        write_deltalake(
            self.lake.table(*TABLE),
            pa.Table.from_pylist(batch, schema=SCHEMA),
            mode="append",
            storage_options=self.lake.storage_options,
        )

    def close(self) -> None:
        """Write every queued row, then stop the writer."""
        self.rows.put(None)
        self.writer.join()
