"""What readers hand to validation: batches of source rows, each with its line, and rejects."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pyarrow as pa


class UnreadableFile(Exception):
    """The file cannot be read at all; it is quarantined whole with this reason."""


@dataclass(frozen=True)
class Reject:
    """A row that could not even be parsed: where, its raw text, why."""

    line: int
    raw: str
    reason: str


@dataclass
class RawBatch:
    """Source rows as found (text, or typed where the format types them) and their lines."""

    table: pa.Table
    lines: pa.Array  # int64: line (text formats) or record number (documents, Parquet)
    rejects: list[Reject] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        """Rows this batch accounts for: parsed plus rejected."""
        return self.table.num_rows + len(self.rejects)


def coalesced(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[list[pa.RecordBatch]]:
    """Small record batches gathered, in order, into groups of about `rows` rows: validation
    has a fixed cost per query and the Delta writer one per batch, while memory stays small."""
    group: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        group.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield group
            group, count = [], 0
    if group:
        yield group
