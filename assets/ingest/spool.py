"""Rows set aside during one load and written in its single commit at the end (quarantine).

Held in memory while small; beyond SPOOL_BYTES they go to a temporary Arrow stream file, read
back batch by batch when written. A 10-million-row file whose rows are mostly bad therefore
costs disk, not memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pyarrow as pa

from assets.ingest.batches import coalesced

SPOOL_BYTES = 64 << 20


class Spool:
    """Tables of one schema, appended in order and read back once, in the same order."""

    def __init__(self, schema: pa.Schema | None = None, limit: int | None = None) -> None:
        """`schema`: by default, the first table's; `limit`: bytes held in memory before they
        go to disk (default SPOOL_BYTES)."""
        self.schema = self.given = schema
        self.limit = SPOOL_BYTES if limit is None else limit
        self.held: list[pa.Table] = []
        self.held_bytes = 0
        self.rows = 0
        self.folder: tempfile.TemporaryDirectory | None = None
        self.sink: pa.NativeFile | None = None
        self.writer: pa.ipc.RecordBatchStreamWriter | None = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def append(self, table: pa.Table) -> None:
        """Add rows (in the spool's schema)."""
        if table.num_rows == 0:
            return
        self.schema = self.schema or table.schema
        if not table.schema.equals(self.schema):  # else the spool's file would refuse it later
            raise ValueError(f"rows of another schema: {table.schema} into {self.schema}")
        self.held.append(table)
        self.held_bytes += table.nbytes
        self.rows += table.num_rows
        if self.held_bytes > self.limit:
            self.spill()

    def spill(self) -> None:
        """Write the rows held in memory to the spool's file."""
        if self.writer is None:
            self.folder = tempfile.TemporaryDirectory(prefix="citybrain-spool-")
            self.sink = pa.OSFile(self.path, "wb")
            self.writer = pa.ipc.new_stream(self.sink, self.schema)
        for table in self.held:
            self.writer.write_table(table)
        self.held, self.held_bytes = [], 0

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every row appended, in order: the file's first, then those still in memory."""
        if self.writer is not None:
            self.close_writer()
            with pa.OSFile(self.path) as source:
                yield from pa.ipc.open_stream(source)
        for table in self.held:
            yield from table.to_batches()

    def tables(self, rows: int) -> Iterator[pa.Table]:
        """Every row appended, in order, as tables of one chunk each and about `rows` rows (a
        consumer with a cost per batch, such as the Delta writer, gets few)."""
        for group in coalesced(self.batches(), rows):
            yield pa.Table.from_batches(group, self.schema).combine_chunks()

    def discard(self) -> None:
        """Drop every row and delete the file (a spool that took its schema from its first
        rows takes it again from the next)."""
        self.close_writer()
        if self.folder is not None:
            self.folder.cleanup()
            self.folder = None
        self.held, self.held_bytes, self.rows, self.schema = [], 0, 0, self.given

    @property
    def path(self) -> str:
        """The spool's file."""
        return f"{self.folder.name}/rows.arrows"

    def close_writer(self) -> None:
        """Finish the file's stream (it can then be read)."""
        if self.writer is not None:
            self.writer.close()
            self.sink.close()
            self.writer = self.sink = None
