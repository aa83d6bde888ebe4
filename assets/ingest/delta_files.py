"""Rows into a Delta table's folder as Parquet files that Arrow writes, and the add actions that
commit them.

delta-rs's writer (`write_deltalake`) sorts and copies every batch by its partition before it
encodes, and its encoder is slower than Arrow's: 10 million meter readings took it 2.4-2.6 CPU-s,
Arrow 1.34-1.46 with the same settings and the same file sizes (measured by hand). Here each
batch goes to its partition's open file (split only when it spans several), full row groups are
written as they fill, and each file's statistics for the Delta log come from its Parquet footer.
The files are nothing until committed: a run killed before its commit leaves files no reader
sees, which vacuuming removes. Taking an earlier attempt's rows out of a file is here too
(`with_rows_removed`): the file's removal, and its other rows written anew.
"""

from __future__ import annotations

import json
import posixpath
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from urllib.parse import quote, unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake.transaction import AddAction, RemoveAction
from pyarrow import fs

# Row groups of 128k rows: readers (checks, dbt) stream a table a few MB at a time; delta-rs's
# default of 1M rows made every scan hold hundreds of MB.
ROW_GROUP_ROWS = 128 * 1024
# The rows a partition's file holds before it is written out as one row group. All partitions'
# waiting rows together are bounded too: a delivery spread over many days would otherwise hold
# up to a row group per day.
MAX_WAITING_ROWS = 4 * ROW_GROUP_ROWS
# A file is closed past this size and the next one opened: 32 MB, as delta-rs wrote bronze before
# (its writer held a file's row groups in memory until the file was closed).
TARGET_FILE_SIZE = 32 << 20
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # Delta's folder for a NULL partition value


def parquet_options(schema: pa.Schema) -> dict:
    """Arrow's Parquet settings for bronze. Snappy, as DuckDB writes: 40% smaller than none for
    the same time. Line numbers are all distinct: a dictionary for them is work thrown away (a
    quarter of bronze's encoding time); they rise by one a row, which delta encoding stores in
    almost nothing (bronze's files a third smaller). Dictionaries stop at 64 KB a column chunk
    (not 1 MB): a column of identifiers, nearly one per row, is written plain after a few
    thousand rows instead of hashed whole into a dictionary that does not pay (encoding 17%
    cheaper, files the same size). All measured by hand, with delta-rs's writer."""
    delta_encoded = [name for name in schema.names if name == "_source_line"]
    return {
        "compression": "snappy",
        "dictionary_pagesize_limit": 64 << 10,
        "use_dictionary": [name for name in schema.names if name not in delta_encoded],
        "column_encoding": dict.fromkeys(delta_encoded, "DELTA_BINARY_PACKED"),
    }


class PartitionFile:
    """The open file of one partition: rows wait until they fill a row group."""

    def __init__(self, folder: str, table_root: str, schema: pa.Schema, values: dict) -> None:
        self.folder, self.root, self.schema, self.values = folder, table_root, schema, values
        self.waiting: list[pa.RecordBatch] = []
        self.waiting_rows = 0
        self.writer: pq.ParquetWriter | None = None
        self.sink: pa.NativeFile | None = None
        self.path = ""
        self.footers: list[pq.FileMetaData] = []

    def add(self, batch: pa.RecordBatch, filesystem: fs.FileSystem) -> list[AddAction]:
        """Take rows; write a row group once enough wait. The files this closed, as actions."""
        self.waiting.append(batch)
        self.waiting_rows += batch.num_rows
        return self.flush(filesystem) if self.waiting_rows >= ROW_GROUP_ROWS else []

    def flush(self, filesystem: fs.FileSystem) -> list[AddAction]:
        """Write the waiting rows; close the file if it has reached TARGET_FILE_SIZE."""
        if not self.waiting:
            return []
        if self.writer is None:
            self.open(filesystem)
        rows = pa.Table.from_batches(self.waiting, self.schema)
        self.writer.write_table(rows, row_group_size=ROW_GROUP_ROWS)
        self.waiting, self.waiting_rows = [], 0
        return [self.close()] if self.sink.tell() >= TARGET_FILE_SIZE else []

    def open(self, filesystem: fs.FileSystem) -> None:
        """A new file in the partition's folder, named as delta-rs names its files."""
        name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
        self.path = f"{self.folder}/{name}" if self.folder else name
        filesystem.create_dir(f"{self.root}/{self.folder}".rstrip("/"), recursive=True)
        # Buffered: Arrow's writer writes each page and page header apart (15,000 writes for
        # 10 million rows unbuffered).
        target = f"{self.root}/{self.path}"
        self.sink = filesystem.open_output_stream(target, compression=None, buffer_size=1 << 20)
        options = parquet_options(self.schema)
        self.writer = pq.ParquetWriter(
            self.sink, self.schema, metadata_collector=self.footers, **options
        )

    def close(self) -> AddAction:
        """Close the open file: its add action, with statistics from its footer."""
        self.writer.close()
        size = self.sink.tell()
        self.sink.close()
        footer = self.footers.pop()
        self.writer = None
        stats = file_stats(footer, self.schema)
        modified = int(time.time() * 1000)
        return AddAction(quote(self.path, safe="/="), size, self.values, modified, True, stats)

    def finish(self, filesystem: fs.FileSystem) -> list[AddAction]:
        """Write what waits and close the file."""
        done = self.flush(filesystem)
        return done + ([self.close()] if self.writer is not None else [])


def write_files(
    uri: str, batches: Iterable[pa.RecordBatch], schema: pa.Schema, partition: str | None = None
) -> list[AddAction]:
    """Write the rows as Parquet files under the table at `uri`, in folders by their value of the
    `partition` column (if any); the add actions that commit them. Nothing is committed here."""
    filesystem, root = fs.FileSystem.from_uri(uri)
    file_schema = schema.remove(schema.get_field_index(partition)) if partition else schema
    files: dict[object, PartitionFile] = {}
    done: list[AddAction] = []
    for batch in batches:
        for value, rows in split_by(batch, partition):
            if value not in files:
                folder, values = partition_folder(partition, value)
                files[value] = PartitionFile(folder, root, file_schema, values)
            done += files[value].add(rows, filesystem)
        if sum(f.waiting_rows for f in files.values()) > MAX_WAITING_ROWS:
            done += [action for f in files.values() for action in f.flush(filesystem)]
    return done + [action for f in files.values() for action in f.finish(filesystem)]


def with_rows_removed(
    uri: str, file: dict, values: dict[str, str | None], hashes: list[str], hash_column: str
) -> list[AddAction | RemoveAction]:
    """The actions that take the rows of `hashes` out of one of the table's files (an add
    action's fields, as `DeltaTable.get_add_actions(flatten=True)` gives them, in the partition
    `values`): none if it holds none, its removal if it holds only those, else its removal and
    its other rows written anew in its partition."""
    filesystem, root = fs.FileSystem.from_uri(uri)
    relative = unquote(file["path"])
    path = f"{root}/{relative}"
    held = pq.read_table(path, columns=[hash_column], filesystem=filesystem).column(hash_column)
    if pa.types.is_dictionary(held.type):
        held = held.cast(held.type.value_type)
    ours = pc.fill_null(pc.is_in(held, pa.array(hashes, held.type)), False)
    if not pc.any(ours).as_py():
        return []
    now = int(time.time() * 1000)
    removed = RemoveAction(file["path"], True, now, file["size_bytes"], values)
    if pc.all(ours).as_py():
        return [removed]
    rest = pq.read_table(path, filesystem=filesystem).filter(pc.invert(ours))
    anew = PartitionFile(posixpath.dirname(relative), root, rest.schema, values)
    written = [action for batch in rest.to_batches() for action in anew.add(batch, filesystem)]
    return [*written, *anew.finish(filesystem), removed]


def split_by(batch: pa.RecordBatch, column: str | None) -> Iterator[tuple[object, pa.RecordBatch]]:
    """The batch's rows by their value of `column`, without it (the folder holds it). Most
    batches hold one value: they pass whole, uncopied."""
    if column is None:
        yield None, batch
        return
    values = batch.column(column)
    rest = batch.drop_columns([column])
    codes = pc.dictionary_encode(values, null_encoding="encode")
    if len(codes.dictionary) <= 1:
        yield (codes.dictionary[0].as_py() if len(codes.dictionary) else None), rest
        return
    indices = codes.indices.to_numpy(zero_copy_only=False)
    order = np.argsort(indices, kind="stable")  # each value's rows, in their order
    grouped = rest.take(pa.array(order))
    starts = np.flatnonzero(np.diff(indices[order], prepend=-1))
    for start, end in zip(starts, [*starts[1:], len(order)], strict=True):
        yield codes.dictionary[indices[order[start]]].as_py(), grouped.slice(start, end - start)


def partition_folder(column: str | None, value: object) -> tuple[str, dict[str, str | None]]:
    """The folder of a partition value (as Delta spells it) and the action's partition values."""
    if column is None:
        return "", {}
    text = None if value is None else stat_text(value)
    return f"{column}={NULL_PARTITION if text is None else text}", {column: text}


def file_stats(footer: pq.FileMetaData, schema: pa.Schema) -> str:
    """The Delta statistics of a written file: its row count, and each column's least and
    greatest value and NULL count where its row groups have them (a column without them is left
    out: readers then read the file rather than skip it)."""
    least, greatest, nulls = {}, {}, {}
    groups = [footer.row_group(g) for g in range(footer.num_row_groups)]
    flat = footer.num_columns == len(schema)  # a nested column is several Parquet columns
    for i, field in enumerate(schema if flat else []):
        stats = [(group.column(i).statistics, group.num_rows) for group in groups]
        counts = [s.null_count if s is not None and s.has_null_count else None for s, _ in stats]
        if None not in counts:
            nulls[field.name] = sum(counts)
        holding = [
            s for s, rows in stats if s is None or not s.has_null_count or s.null_count < rows
        ]
        if not holding or any(s is None or not s.has_min_max for s in holding):
            continue  # no value, or a row group holding values without their range
        low = stat_json(min(s.min for s in holding), field.type)
        high = stat_json(max(s.max for s in holding), field.type)
        if low is not None and high is not None:
            least[field.name], greatest[field.name] = low, high
    return json.dumps(
        {
            "numRecords": footer.num_rows,
            "minValues": least,
            "maxValues": greatest,
            "nullCount": nulls,
        }
    )


def stat_json(value: object, kind: pa.DataType) -> object:
    """A statistic as the Delta log writes it; None where it cannot say (text as bytes, an
    infinite number, a nested type)."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if isinstance(value, bool) or pa.types.is_integer(kind):
        return value
    if pa.types.is_floating(kind):
        return value if np.isfinite(value) else None
    if isinstance(value, str | datetime | date):
        return stat_text(value)
    return None


def stat_text(value: object) -> str:
    """A value as Delta writes it in statistics and partition folders: times in UTC with `Z`
    (naive ones without), the fraction of a second only when there is one."""
    if isinstance(value, datetime):
        aware = value.tzinfo is not None
        value = value.astimezone(UTC).replace(tzinfo=None) if aware else value
        # isoformat, not strftime: the year in four digits (0001, 0999), which readers parse
        text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
        return text + ("Z" if aware else "")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
