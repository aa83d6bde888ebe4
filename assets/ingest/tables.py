"""Delta writes of ingestion: bronze (append or upsert), quarantine and the ledger.

Exactly once rests on two things. Every write of a file's rows replaces whatever rows of the same
content hash the table holds (`replace_file_rows`, one atomic commit), so a re-run after a crash
rewrites rather than doubles. And a commit that loses a race (`CommitFailedError`) is retried
from the start, after which the ledger says the file is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import pyarrow as pa
from deltalake import DeltaTable, QueryBuilder, Schema, write_deltalake
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import CommitProperties, Transaction

from assets.ingest.arrow_types import retyped_schema
from assets.ingest.delta_files import stat_text, with_rows_removed, write_files
from assets.ingest.validate import ident, literal

T = TypeVar("T")
RETRIES = 8

QUARANTINE_SCHEMA = pa.schema(
    [
        ("system", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("source_hash", pa.string()),
        ("batch_id", pa.string()),
        ("raw", pa.string()),
        ("reason", pa.string()),
        ("ingested_at", pa.timestamp("us", tz="UTC")),
    ]
)

LEDGER_SCHEMA = pa.schema(
    [
        ("system", pa.string()),
        ("path", pa.string()),
        ("content_hash", pa.string()),
        ("size_bytes", pa.int64()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("rows_read", pa.int64()),
        ("rows_loaded", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("warnings", pa.string()),
        ("batch_id", pa.string()),
        ("run_id", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("finished_at", pa.timestamp("us", tz="UTC")),
        ("modified_at", pa.timestamp("us", tz="UTC")),  # the file's, when taken (since 2026-11-30)
    ]
)


def retried(work: Callable[[], T], attempts: int = RETRIES) -> T:
    """Run `work`, again after a lost commit race (with a growing pause)."""
    for attempt in range(attempts):
        try:
            return work()
        except CommitFailedError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")


def by_hash(hashes: list[str], column: str) -> str:
    """The predicate selecting the rows of these files (hashes are hex: safe to inline)."""
    return f"{column} IN ({', '.join(repr(h) for h in hashes)})"


# The Delta app transaction (`txn`) every write of files' rows commits: two writes of one table
# at once conflict on it (delta-rs fails the later commit), whatever files they hold.
WRITER_APP = "citybrain-ingest"


def replace_file_rows(
    uri: str,
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    hashes: list[str],
    hash_column: str,
    partition_by: list[str] | None = None,
    storage_options: dict[str, str] | None = None,
) -> None:
    """Write files' rows, replacing any earlier attempt's rows of the same hashes, atomically.

    Arrow writes the rows' files (`delta_files`); one commit adds them and, where an earlier
    attempt committed rows of these hashes (a crash between this write and the ledger's),
    removes the files holding those, with their other rows written anew. The commit carries
    the app transaction WRITER_APP: two machines writing one table at once conflict, and the
    loser, retried, finds the winner's rows and replaces them."""
    if partition_by and len(partition_by) > 1:
        raise ValueError(f"one partition column at most, not {partition_by}")
    create_if_missing(uri, schema, partition_by, storage_options)
    table = with_columns_of(uri, retyped_schema(schema, decoded), storage_options)
    version = (table.transaction_version(WRITER_APP) or 0) + 1
    commit = CommitProperties(app_transactions=[Transaction(WRITER_APP, version)])
    batches, schema = in_table_types(table, batches, schema, uri)
    column = partition_by[0] if partition_by else None
    added = write_files(uri, batches, schema, column)
    written = {action.partition_values.get(column) for action in added} if column else None
    replaced = [
        action
        for file, values in earlier_files(table, hashes, hash_column, column, written)
        for action in with_rows_removed(uri, file, values, hashes, hash_column)
    ]
    if added or replaced:
        table.create_write_transaction(
            added + replaced, "append", table.schema(), partition_by, commit_properties=commit
        )


def in_table_types(
    table: DeltaTable, batches: Iterable[pa.RecordBatch], schema: pa.Schema, uri: str
) -> tuple[Iterable[pa.RecordBatch], pa.Schema]:
    """The batches (and their schema) with each column the table has in the table's type.
    Arrow writes the files as the batches are, and a column of another type (a contract that
    changed a column's type) would make the table unreadable. A value that does not convert
    raises `ColumnTypeChanged`, naming the column."""
    kept = {field.name: field.type for field in table.schema().fields}
    ours = Schema.from_arrow(retyped_schema(schema, decoded)).fields
    changed = [f.name for f in ours if f.name in kept and f.type != kept[f.name]]
    if not changed:
        return batches, schema
    theirs = pa.schema(table.schema().to_arrow())
    target = pa.schema([theirs.field(f.name) if f.name in changed else f for f in schema])

    def converted(batch: pa.RecordBatch) -> pa.RecordBatch:
        columns = list(batch.columns)
        for name in changed:
            index = batch.schema.get_field_index(name)
            try:
                columns[index] = columns[index].cast(target.field(name).type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise ColumnTypeChanged(uri, name, schema.field(name).type, err) from err
        return pa.RecordBatch.from_arrays(columns, schema=target)

    return (converted(batch) for batch in batches), target


class ColumnTypeChanged(ValueError):
    """Rows whose column does not convert to the type the table keeps it in."""

    def __init__(self, uri: str, column: str, delivered: pa.DataType, err: Exception) -> None:
        super().__init__(
            f"{uri}: column {column} arrives as {delivered}, which the table's type for it does"
            f" not take ({err}); rebuild the table from landing for the contract's new type"
        )


def earlier_files(
    table: DeltaTable,
    hashes: list[str],
    hash_column: str,
    partition: str | None = None,
    written: set[str | None] | None = None,
) -> Iterator[tuple[dict, dict[str, str | None]]]:
    """The table's files that may hold rows of these hashes, by their statistics, each with its
    partition values as Delta writes them: a file of one hash alone anywhere (its statistics
    are exact), and in the partitions this write fills (`written`), any file whose range of
    hashes takes one in (compacted files, or files without statistics). Text statistics may
    be cut short: a hash is compared with a least value whole and with a greatest value's
    length of itself."""
    files = pa.table(table.get_add_actions(flatten=True))
    low_name, high_name = f"min.{hash_column}", f"max.{hash_column}"
    for file in files.to_pylist():
        low, high = file.get(low_name), file.get(high_name)
        takes_in = (
            low is None or high is None or any(low <= h and h[: len(high)] <= high for h in hashes)
        )
        value = file.get(f"partition.{partition}") if partition else None
        values = {partition: None if value is None else stat_text(value)} if partition else {}
        alone = low is not None and low == high
        if takes_in and (alone or written is None or values[partition] in written):
            yield file, values


def create_if_missing(
    uri: str,
    schema: pa.Schema,
    partition_by: list[str] | None = None,
    storage_options: dict[str, str] | None = None,
    configuration: dict[str, str] | None = None,
) -> None:
    """Create the table, empty, if it is not there, so that every write of rows is a replace or
    a merge, which a concurrent one conflicts with. A first write that created the table by
    appending did not: delta-rs commits a second machine's creating append as a plain append,
    and a delivery written on both at once was in the table twice."""
    if not exists(uri, storage_options):
        DeltaTable.create(
            uri,
            retyped_schema(schema, decoded),
            mode="ignore",
            partition_by=partition_by,
            storage_options=storage_options,
            configuration=configuration,
        )


def decoded(kind: pa.DataType) -> pa.DataType:
    """A dictionary's value type (Delta stores the values); any other type as it is."""
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def exists(uri: str, storage_options: dict[str, str] | None = None) -> bool:
    """Whether a Delta table is at `uri`."""
    return DeltaTable.is_deltatable(uri, storage_options=storage_options)


# Every run writes to the ledger and every run reads it: a checkpoint every 10 commits (not
# the default 100) keeps the commits a reader must replay few (set when the table is created).
LEDGER_CONFIGURATION = {"delta.checkpointInterval": "10"}
# A content hash is taken in (loaded or quarantined) once; a duplicate row is one delivery of
# known content, at a path and modification time (a file touched or re-sent is a new one).
TAKEN_ONCE = (
    "t.system = s.system AND t.content_hash = s.content_hash AND "
    "((t.status <> 'duplicate' AND s.status <> 'duplicate') "
    "OR (t.path = s.path AND t.modified_at = s.modified_at))"
)


def append(uri: str, table: pa.Table, storage_options: dict[str, str] | None = None) -> None:
    """Append rows (a log, such as the rollbacks')."""
    write_deltalake(
        uri,
        table,
        mode="append",
        schema_mode="merge",
        storage_options=storage_options,
        configuration=LEDGER_CONFIGURATION,
    )


def record_files(uri: str, rows: pa.Table, storage_options: dict[str, str] | None = None) -> None:
    """Add ledger rows, each unless the ledger has it already (`TAKEN_ONCE`). A merge, not an
    append: two machines taking in one file at once wrote its row twice; a merge that loses the
    race to another fails its commit and, retried, finds the row there."""
    create_if_missing(
        uri, rows.schema, storage_options=storage_options, configuration=LEDGER_CONFIGURATION
    )
    # The systems as literals let delta-rs skip other systems' files: at a month of deliveries,
    # 70 ms a merge instead of 310 ms.
    systems = ", ".join(sorted({literal(s) for s in rows.column("system").to_pylist()}))
    (
        with_columns_of(uri, rows.schema, storage_options)
        .merge(
            rows,
            f"t.system IN ({systems}) AND {TAKEN_ONCE}",
            source_alias="s",
            target_alias="t",
        )
        .when_not_matched_insert_all()
        .execute()
    )


def with_columns_of(
    uri: str, schema: pa.Schema, storage_options: dict[str, str] | None = None
) -> DeltaTable:
    """The table, given the columns of `schema` it lacks (a ledger from before `modified_at`) by
    appending no rows: a merge's predicate cannot name a column its target does not have yet."""
    table = DeltaTable(uri, storage_options=storage_options)
    if set(schema.names) <= set(table.schema().to_arrow().names):
        return table
    write_deltalake(
        uri,
        schema.empty_table(),
        mode="append",
        schema_mode="merge",
        storage_options=storage_options,
    )
    return DeltaTable(uri, storage_options=storage_options)


def read_table(
    uri: str,
    columns: list[str] | None = None,
    where: str | None = None,
    storage_options: dict[str, str] | None = None,
    version: int | None = None,
    distinct: bool = False,
) -> pa.Table | None:
    """A table's rows (projected, filtered by an SQL condition, each distinct row once if
    `distinct`; as of `version`, else now), or None when there is no table.

    The query runs in delta-rs (DataFusion), which skips the files whose statistics rule the
    condition out: a system's ledger rows are read in time that grows with that system's files,
    not with the whole ledger's (at a month of deliveries, 36 ms instead of 790 ms).
    """
    try:
        table = DeltaTable(uri, version=version, storage_options=storage_options)
    except TableNotFoundError:
        return None
    names = pa.schema(table.schema().to_arrow()).names
    has, wanted = set(names), columns or names
    select = ", ".join(ident(c) for c in wanted if c in has) or "NULL AS _none"
    sql = f"SELECT {'DISTINCT ' if distinct else ''}{select} FROM t" + (
        f" WHERE {where}" if where else ""
    )
    rows = pa.table(QueryBuilder().register("t", table).execute(sql).read_all())
    # A column the table does not have yet (added by a later version of ours): all nulls.
    for name in wanted:
        if name not in has:
            rows = rows.append_column(name, pa.nulls(rows.num_rows))
    # DataFusion answers text as string_view; the rest of the lake (and pandas) uses string
    rows = rows.select(wanted)
    return rows.cast(retyped_schema(rows.schema, plain_text))


def plain_text(kind: pa.DataType) -> pa.DataType:
    """string for string_view (DataFusion's text); any other type as it is."""
    return pa.string() if pa.types.is_string_view(kind) else kind


def upsert(
    uri: str,
    rows: pa.Table,
    keys: list[str],
    version_column: str,
    partition_by: list[str],
    storage_options: dict[str, str] | None = None,
) -> None:
    """Merge rows on the key: a newer version replaces the older state whole (a field it lacks
    becomes null; a field new to the table adds its column); a replay changes nothing."""
    create_if_missing(uri, rows.schema, partition_by, storage_options)
    table = DeltaTable(uri, storage_options=storage_options)
    for field in pa.schema(table.schema().to_arrow()):
        if field.name not in rows.column_names:  # else the older state's value would stay
            rows = rows.append_column(field, pa.nulls(rows.num_rows, field.type))
    on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    (
        table.merge(rows, predicate=on, source_alias="s", target_alias="t", merge_schema=True)
        .when_matched_update_all(predicate=f"s.{version_column} > t.{version_column}")
        .when_not_matched_insert_all()
        .execute()
    )
