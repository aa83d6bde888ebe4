"""What readers hand to validation: batches of source rows, each with its line, and rejects."""

from __future__ import annotations

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
