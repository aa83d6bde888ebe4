"""Ingest one system's landing files into bronze: every row loaded or quarantined, once.

Per file: scan (hash, encoding) -> skip if the ledger knows the hash -> read in batches ->
validate -> rows to bronze, bad rows and duplicates to quarantine -> a ledger row whose counts
balance (read = loaded + quarantined). A file that cannot be read is quarantined whole.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assets.ingest.batches import RawBatch, UnreadableFile
from assets.ingest.dedupe import SeenKeys
from assets.ingest.landing import (
    NameNotUtf8,
    delivery_hash,
    is_utf8_name,
    landing_files,
    modified_time,
    named_files,
    printable,
    system_lock,
)
from assets.ingest.prefetch import prefetched
from assets.ingest.readers import delimiter_hint, delivered_rows, read_batches
from assets.ingest.scan import FileScan, scan_file
from assets.ingest.spool import Spool
from assets.ingest.tables import (
    LEDGER_SCHEMA,
    QUARANTINE_SCHEMA,
    read_table,
    record_files,
    replace_file_rows,
    retried,
    upsert,
)
from assets.ingest.validate import PARTITION, Shortcuts, Validator, literal, repeated_field
from assets.registry import Contract

LINEAGE = ["_source_file", "_source_line", "_source_hash", "_batch_id", "_ingested_at"]
INGESTED_AT = pa.timestamp("us", tz="UTC")
RAW_SAMPLE = 4096  # characters of a whole-file quarantine's raw text
DUPLICATE = "duplicate row (same key earlier in the file)"


@dataclass
class FileResult:
    """The ledger row of one file."""

    system: str
    path: str
    content_hash: str
    size_bytes: int
    status: str  # loaded | quarantined | duplicate
    reason: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    warnings: list[str] = field(default_factory=list)
    event_dates: set[date] = field(default_factory=set)  # of the rows loaded (checks' scope)
    batch_id: str = ""
    run_id: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    modified_at: datetime | None = None  # the file's time when taken: a same-size edit is new

    def as_row(self) -> dict:
        """The row as the ledger table stores it."""
        row = {k: getattr(self, k) for k in LEDGER_SCHEMA.names}
        row["warnings"] = "; ".join(self.warnings) or None
        return row


def system_tables(lake, system: str) -> tuple[str, str, str]:
    """The tables an ingest of a system writes, besides the ledger: bronze, bronze's history
    of states (for records that change state) and quarantine."""
    bronze = lake.table("bronze", system)
    return bronze, lake.table("bronze", f"{system}_history"), lake.table("quarantine", system)


class SystemIngest:
    """Ingests files of one contract into `bronze/<id>`, `quarantine/<id>` and the ledger."""

    def __init__(self, contract: Contract, lake, run_id: str = "") -> None:
        self.contract = contract
        self.lake = lake
        self.run_id = run_id
        self._validator: Validator | None = None
        self._making_validator = threading.Lock()
        self.bronze, self.history, self.quarantine = system_tables(lake, contract.id)
        self.ledger = lake.table("ledger", "files")

    @property
    def validator(self) -> Validator:
        """The contract's validator, made when a file is first read: a run that finds only
        re-deliveries does not pay for its DuckDB connections. (Locked: the stages' threads
        may be the first to ask.)"""
        with self._making_validator:
            if self._validator is None:
                self._validator = Validator(self.contract)
            return self._validator

    def close(self) -> None:
        """Release the validator's connections, if it was made."""
        if self._validator is not None:
            self._validator.close()
            self._validator = None

    def ingest(self, files: list[tuple[Path, str]], known: dict[str, str]) -> list[FileResult]:
        """A group of files, exactly once, in one commit per table. `known` maps content hashes
        already taken in to their first path; it is updated with this group's files."""
        results, todo = [], []
        for path, rel in files:
            if not is_utf8_name(rel):
                raise NameNotUtf8(rel)  # the file stays pending, named, and the others go in
            modified = modified_time(path.stat())  # before hashing: a later edit is seen
            # a re-delivery costs this pass only
            digest, size = delivery_hash(self.contract, path, rel)
            result = FileResult(
                self.contract.id,
                rel,
                digest,
                size,
                "loaded",
                batch_id=uuid.uuid4().hex,
                run_id=self.run_id,
                modified_at=modified,
            )
            if digest in known:
                result.status = "duplicate"
                result.reason = f"same content as {known[digest]}"
            else:
                known[digest] = rel
                settings = self.contract.settings
                scan = scan_file(path, settings.encoding, digest, settings.quote_char)
                todo.append((path, scan, result))
            results.append(result)
        if todo:
            retried(lambda: self.load(todo))
        for result in results:
            result.finished_at = datetime.now(UTC)
        rows = pa.Table.from_pylist([r.as_row() for r in results], LEDGER_SCHEMA)
        retried(lambda: record_files(self.ledger, rows, self.lake.storage_options))
        return results

    def load(self, todo: list[tuple[Path, FileScan, FileResult]]) -> None:
        """Read, validate and write files (idempotent: safe to repeat after a crash or race)."""
        for _, _, result in todo:  # a retry starts the counts afresh
            reset(result)
        hashes = [scan.content_hash for _, scan, _ in todo]
        with Spool(QUARANTINE_SCHEMA) as quarantined:
            if len(todo) == 1:
                self.load_one(*todo[0], hashes, quarantined)
            else:
                self.load_group(todo, hashes, quarantined)
            replace_file_rows(
                self.quarantine,
                quarantined.batches(),
                QUARANTINE_SCHEMA,
                hashes,
                "source_hash",
                storage_options=self.lake.storage_options,
            )

    def load_one(
        self, path: Path, scan: FileScan, result: FileResult, hashes: list[str], quarantined: Spool
    ) -> None:
        """One file, streamed batch by batch into the writer; its bad rows to `quarantined`.
        Fields first seen after the first batch restart the (uncommitted) write with them."""
        late: list[str] = []
        while True:
            try:
                self.stream_one(path, scan, result, hashes, quarantined, late)
                break
            except SchemaGrew as grew:
                late += grew.fields
                quarantined.discard()
                reset(result)
        if late:
            result.warnings.append(kept_as_text(late))

    def stream_one(
        self,
        path: Path,
        scan: FileScan,
        result: FileResult,
        hashes: list[str],
        quarantined: Spool,
        late: list[str],
    ) -> None:
        """One pass over a file; raises `SchemaGrew` when a batch brings fields not in `late`
        nor in the first batch."""
        failure: list[Exception] = []
        rows = prefetched(self.valid_rows(path, scan, result, quarantined, late, failure))
        try:
            with closing(rows):  # on leaving, the producing thread has stopped
                first = next(rows, None)
                if first is not None:
                    self.write_good(first, rows, hashes)  # aborts, uncommitted, on a failure
        except Exception as err:
            # Raised inside the Delta writer, the reader's error may arrive wrapped.
            if not failure:
                raise
            if isinstance(failure[0], (SchemaGrew, FileChanged)):
                raise failure[0] from None
            self.check_unchanged(path, result)  # a file still being written is pending
            if not isinstance(err, UnreadableFile):
                result.warnings.append(f"write aborted: {type(err).__name__}")
            quarantined.discard()
            quarantined.append(self.unreadable(path, scan, result, failure[0]))

    def load_group(
        self, todo: list[tuple[Path, FileScan, FileResult]], hashes: list[str], quarantined: Spool
    ) -> None:
        """Small files, read whole and validated in one query, written in one commit."""
        files: list[tuple[Path, FileScan, FileResult, RawBatch]] = []
        for path, scan, result in todo:
            try:
                raw = self.whole(path, scan, result)
            except UnreadableFile as err:
                self.check_unchanged(path, result)
                quarantined.append(self.unreadable(path, scan, result, err))
                continue
            self.check_unchanged(path, result)
            result.rows_read += raw.rows_read
            files.append((path, scan, result, raw))
        checked = self.validate_together([raw for *_, raw in files])
        tables, at = [], datetime.now(UTC)
        for (path, scan, result, raw), mine in zip(files, checked, strict=True):
            try:
                with SeenKeys() as seen, Spool() as held:  # one batch: nothing is held
                    good, rejected = self.settle(raw, mine, result, seen, held, True, at)
                    decided = list(self.release(seen, held, result, quarantined, at))
            except UnreadableFile as err:
                quarantined.append(self.unreadable(path, scan, result, err))
                continue
            quarantined.append(rejected)
            tables += [t for t in [good, *decided] if t is not None]
        if tables:
            schema = pa.unify_schemas([t.schema for t in tables])  # files may differ in extras
            self.write_good(conform_to(tables[0], schema), iter(tables[1:]), hashes)

    def whole(self, path: Path, scan: FileScan, result: FileResult) -> RawBatch:
        """A small file's rows as one batch, with the values its path carries."""
        raws = list(self.read(path, scan))
        tables = [r.table for r in raws if r.table.num_columns]
        table = pa.concat_tables(tables, promote_options="default") if tables else pa.table({})
        lines = pa.concat_arrays([r.lines for r in raws]) if raws else pa.array([], pa.int64())
        raw = RawBatch(table, lines, [j for r in raws for j in r.rejects])
        return with_constants(raw, self.contract.settings.path_values(result.path))

    def read(self, path: Path, scan: FileScan) -> Iterator[RawBatch]:
        """The file's batches; a file whose field names are ambiguous cannot be read."""
        groups = self.validator.field_group, self.validator.as_delivered
        for batch in read_batches(path, self.contract, scan):
            if problem := repeated_field(batch.table, *groups):
                raise UnreadableFile(problem)
            yield batch

    def validate_together(self, raws: list[RawBatch]) -> list[pa.Table | None]:
        """One validation query for many small files (a query has a fixed cost); each file's
        slice of the result, in order. Files whose columns cannot be combined go one by one."""
        present = [r for r in raws if r.table.num_rows]
        try:
            table = pa.concat_tables([r.table for r in present], promote_options="default")
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return [
                self.validator.run(r.table, r.lines) if r.table.num_rows else None for r in raws
            ]
        if not present:
            return [None] * len(raws)
        checked = self.validator.run(table, pa.concat_arrays([r.lines for r in present]))
        out, offset = [], 0
        for raw in raws:
            rows = raw.table.num_rows
            out.append(checked.slice(offset, rows) if rows else None)
            offset += rows
        return out

    def unreadable(
        self, path: Path, scan: FileScan, result: FileResult, err: Exception
    ) -> pa.Table:
        """Mark a file quarantined whole; every row it holds counts as quarantined."""
        result.status, result.reason, result.rows_loaded = "quarantined", str(err), 0
        rows = max(delivered_rows(path, scan, self.contract), 1)
        result.rows_read = result.rows_quarantined = rows
        return self.whole_file(path, scan, result)

    def write_good(self, first: pa.Table, rest: Iterator[pa.Table], hashes: list[str]) -> None:
        """Valid rows to bronze: appended per file, or merged on the key where records change."""
        opts = self.lake.storage_options
        schema = first.schema
        stream = (b for t in chain([first], rest) for b in conform_to(t, schema).to_batches())
        if self.contract.settings.update_semantics == "append":
            replace_file_rows(
                self.bronze, stream, schema, hashes, "_source_hash", [PARTITION], opts
            )
            return
        states = pa.Table.from_batches(list(stream), schema)  # state exports are small
        replace_file_rows(
            self.history, states.to_batches(), schema, hashes, "_source_hash", [PARTITION], opts
        )
        keys = list(self.contract.primary_key)
        version = self.contract.settings.version_column or self.contract.event_time_column
        upsert(self.bronze, latest_per_key(states, keys, version), keys, version, [PARTITION], opts)

    def valid_rows(
        self,
        path: Path,
        scan: FileScan,
        result: FileResult,
        quarantined: Spool,
        late: list[str],
        failure: list[Exception],
    ) -> Iterator[pa.Table]:
        """Bronze-ready tables of valid rows; bad rows, rejects and duplicates set aside.
        An unreadable file raises `UnreadableFile`, a batch with new fields `SchemaGrew`; either
        is also noted in `failure` (the writer may wrap what it re-raises)."""
        try:
            yield from self._valid_rows(path, scan, result, quarantined, late)
            self.check_unchanged(path, result)  # before the writer commits what it read
        except (UnreadableFile, SchemaGrew, FileChanged) as err:
            failure.append(err)
            raise

    def _valid_rows(
        self, path: Path, scan: FileScan, result: FileResult, quarantined: Spool, late: list[str]
    ) -> Iterator[pa.Table]:
        at = datetime.now(UTC)
        constants = self.contract.settings.path_values(result.path)
        with (
            closing(prefetched(self.checked(path, scan, constants, late))) as batches,
            SeenKeys(expected=scan.lines or scan.size // 8) as seen,  # Parquet: no lines
            Spool() as held,
        ):
            for index, raw, checked in batches:
                result.rows_read += raw.rows_read
                if raw.table.num_rows == 0 and not raw.rejects:
                    continue
                good, rejected = self.settle(raw, checked, result, seen, held, index == 0, at)
                quarantined.append(rejected)
                if good is not None:
                    yield good
                if seen.due:
                    yield from self.release(seen, held, result, quarantined, at)
            yield from self.release(seen, held, result, quarantined, at)

    def checked(
        self, path: Path, scan: FileScan, constants: dict[str, str], late: list[str]
    ) -> Iterator[tuple[int, RawBatch, pa.Table | None]]:
        """Each batch of the file (numbered), with the values its path carries, and its
        validation (None for a batch of rejects only). Run a stage ahead of settling, in a
        thread of its own: on two cores, DuckDB validates a batch while the one before is
        checked for duplicates. A batch with fields the first lacked raises `SchemaGrew`."""
        carried: list[str] | None = None  # extra fields of every batch: the first's, and late
        with closing(prefetched(self.prepared(path, scan, constants))) as batches:
            for index, (raw, shortcuts) in enumerate(batches):
                checked = None
                if raw.table.num_rows:
                    extra = self.validator.extra_fields(raw.table.schema)
                    if carried is None:  # the writer's schema has these, whichever rows lead
                        carried = [*extra, *(f for f in late if f not in extra)]
                    elif new := [f for f in extra if f not in carried]:
                        later = (raw for raw, _ in batches)
                        raise SchemaGrew(new + self.fields_later(later, carried + new))
                    checked = self.validator.run(raw.table, raw.lines, carried, shortcuts)
                yield index, raw, checked

    def prepared(
        self, path: Path, scan: FileScan, constants: dict[str, str]
    ) -> Iterator[tuple[RawBatch, Shortcuts | None]]:
        """The file's batches with the values its path carries, and what their validation may
        skip (`Validator.shortcuts`): a stage ahead of validation, in the reading thread."""
        for batch in self.read(path, scan):
            raw = with_constants(batch, constants)
            yield raw, self.validator.shortcuts(raw.table) if raw.table.num_rows else None

    def fields_later(self, batches: Iterator[RawBatch], known: list[str]) -> list[str]:
        """Extra fields of the batches still to come that are not in `known`: found in one
        pass, so that a file whose fields keep growing is read again once, not once a batch."""
        found: list[str] = []
        for batch in batches:
            extra = self.validator.extra_fields(batch.table.schema)
            found += [f for f in extra if f not in known and f not in found]
        return found

    def settle(
        self,
        raw: RawBatch,
        checked: pa.Table | None,
        result: FileResult,
        seen: SeenKeys,
        held: Spool,
        first: bool,
        at: datetime,
    ) -> tuple[pa.Table | None, pa.Table]:
        """A validated batch's fate: bronze rows (with lineage) and quarantine rows, counted.
        Rows whose key may repeat an earlier batch's go to `held`, with their text, until
        `release` decides them."""
        if checked is None:
            return None, self.rejected(raw, None, np.array([], dtype=np.int64), None, result, at)
        if first:
            self.check_drift(raw, checked, result)
        load, doubtful = fates(checked, seen, self.keep_duplicates)
        aside = np.flatnonzero(~load)  # invalid, repeating, or doubtful
        texts = self.validator.record_texts(take_rows(raw.table, aside)) if len(aside) else None
        rows = checked.drop_columns(["_reason", "_key_hash"])  # fewer columns to copy
        if len(doubtful):
            waits = np.isin(aside, doubtful)
            texts, held_texts = texts.filter(pa.array(~waits)), texts.filter(pa.array(waits))
            held.append(take_rows(rows, doubtful).append_column("_text", held_texts))
            aside = aside[~waits]
        rejected = self.rejected(raw, checked.column("_reason"), aside, texts, result, at)
        if not load.any():
            return None, rejected
        good = rows if load.all() else rows.filter(pa.array(load))
        return self.loaded(good, result, at), rejected

    def release(
        self, seen: SeenKeys, held: Spool, result: FileResult, quarantined: Spool, at: datetime
    ) -> Iterator[pa.Table]:
        """The held rows decided (`SeenKeys.resolve`): bronze-ready tables of those first in the
        file, the others to quarantine as duplicates."""
        repeats, done = seen.resolve(), 0
        for rows in held.tables(RELEASED_ROWS):
            again = pa.array(repeats[done : done + rows.num_rows])
            done += rows.num_rows
            dropped = rows.filter(again)
            n = dropped.num_rows
            texts, reasons = dropped.column("_text"), [DUPLICATE] * n
            quarantined.append(quarantine_rows(result, dropped.column("_line"), texts, reasons, at))
            result.rows_quarantined += n
            if n < rows.num_rows:
                yield self.loaded(rows.filter(pc.invert(again)).drop_columns(["_text"]), result, at)
        held.discard()

    def loaded(self, good: pa.Table, result: FileResult, at: datetime) -> pa.Table:
        """Valid rows counted as loaded, their dates noted, with their lineage."""
        result.rows_loaded += good.num_rows
        result.event_dates.update(pc.unique(good.column("_event_date")).drop_null().to_pylist())
        return self.with_lineage(good, result, at)

    def check_unchanged(self, path: Path, result: FileResult) -> None:
        """Raise `FileChanged` if the file's content differs from what was hashed. Its size and
        time are looked at first; only when one differs is it hashed again: a file touched, or
        re-sent with the same bytes, while it was read is still the content hashed (its newer
        time goes to the ledger), and a run failed for it would never be started again by
        the sensor, whose run keys are content hashes."""
        info = path.stat()
        when, size = modified_time(info), info.st_size
        if size == result.size_bytes and (result.modified_at is None or when == result.modified_at):
            return
        if delivery_hash(self.contract, path, result.path)[0] == result.content_hash:
            result.modified_at = when
            return
        was = f"{result.size_bytes:,} bytes, modified {result.modified_at}"
        raise FileChanged(
            f"changed while it was read ({was} when hashed; {size:,} bytes, modified {when} "
            "now); it stays pending"
        )

    @property
    def keep_duplicates(self) -> bool:
        """Whether the contract keeps rows that repeat a key within a file."""
        return self.contract.settings.duplicate_rows == "keep"

    def check_drift(self, raw: RawBatch, checked: pa.Table, result: FileResult) -> None:
        """Missing required columns or a column of the wrong type reject the file; extra fields
        are kept (the table evolves) with a warning."""
        sources = self.validator.sources(raw.table.schema)
        missing = [c.name for c in self.contract.columns if c.required and sources[c.name] is None]
        if missing:
            hint = delimiter_hint(raw.table.column_names, self.contract)
            raise UnreadableFile(f"missing required column(s): {', '.join(missing)}{hint}")
        reasons = checked.column("_reason")
        for col in self.contract.columns:
            source = sources[col.name]
            if source is None or checked.num_rows < 3:
                continue
            mentions = pc.match_substring(reasons, f"{col.name}: ")
            wrong = count(pc.and_(mentions, pc.match_substring(reasons, "is not a valid")))
            present = checked.num_rows - count(
                pc.match_substring(reasons, f"missing required {col.name}")
            )
            if present and wrong == present:
                raise UnreadableFile(
                    f"column {col.name}: no value is a valid {col.physicalType.lower()}; "
                    f"incompatible with the contract"
                )
        extra = self.validator.extra_fields(raw.table.schema)
        if extra:
            result.warnings.append(kept_as_text(extra))

    def rejected(
        self,
        raw: RawBatch,
        reasons: pa.ChunkedArray | None,
        bad: np.ndarray,
        texts: pa.ChunkedArray | None,
        result: FileResult,
        at: datetime,
    ) -> pa.Table:
        """Quarantine rows, counted: parse rejects with their text, and the rows at `bad`
        (invalid, or repeating a key) with `texts`, JSON of their fields as delivered."""
        parts = []
        if raw.rejects:
            lines, rejects = [r.line for r in raw.rejects], [r.raw for r in raw.rejects]
            why = [r.reason for r in raw.rejects]
            parts.append(quarantine_rows(result, lines, rejects, why, at))
        if len(bad):
            why = pc.fill_null(reasons.take(pa.array(bad)), DUPLICATE)
            parts.append(quarantine_rows(result, raw.lines.take(pa.array(bad)), texts, why, at))
        rejected = pa.concat_tables(parts) if parts else QUARANTINE_SCHEMA.empty_table()
        result.rows_quarantined += rejected.num_rows
        return rejected

    def with_lineage(self, good: pa.Table, result: FileResult, at: datetime) -> pa.Table:
        """Valid rows with their lineage and local event date, helper columns dropped."""
        n = good.num_rows
        return (
            good.drop_columns(["_line", "_event_date"])
            .append_column("_source_file", constant(result.path, n))
            .append_column("_source_line", good.column("_line"))
            .append_column("_source_hash", constant(result.content_hash, n))
            .append_column("_batch_id", constant(result.batch_id, n))
            .append_column("_ingested_at", pa.repeat(pa.scalar(at, INGESTED_AT), n))
            .append_column(PARTITION, good.column("_event_date"))
        )

    def whole_file(self, path: Path, scan: FileScan, result: FileResult) -> pa.Table:
        """The quarantine row of a file that could not be read: its start and the cause."""
        with open(path, "rb") as handle:
            head = handle.read(RAW_SAMPLE).decode(scan.encoding, errors="replace")
        reason = f"file quarantined: {result.reason}"
        return quarantine_rows(result, [0], [head], [reason], datetime.now(UTC))


class FileChanged(Exception):
    """A file changed while it was read (a unit still uploading it): what was read is not
    written, and the file stays pending until a later run."""


class SchemaGrew(Exception):
    """A batch brought fields that earlier batches of its file did not have."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(f"new fields: {', '.join(fields)}")
        self.fields = fields


def reset(result: FileResult) -> None:
    """A file's counts and outcome as before its first read (a retry starts afresh)."""
    result.rows_read = result.rows_loaded = result.rows_quarantined = 0
    result.status, result.reason, result.warnings = "loaded", None, []
    result.event_dates = set()


def kept_as_text(fields: list[str]) -> str:
    """The warning for fields a contract does not name."""
    return f"fields not in the contract, kept as text: {', '.join(fields)}"


def with_constants(raw: RawBatch, constants: dict[str, str] | None) -> RawBatch:
    """Columns a file's path supplies (e.g. `{operator}`), where its rows do not carry them."""
    table = raw.table
    for name, value in (constants or {}).items():
        if name not in table.column_names and table.num_rows:
            table = table.append_column(name, repeated(value, table.num_rows))
    return RawBatch(table, raw.lines, raw.rejects)


def repeated(text: str, n: int) -> pa.Array:
    """`n` copies of a text, built from two buffers (`pa.repeat` takes 0.2 s for 250,000)."""
    data = text.encode()
    if n * len(data) >= 2**31:  # beyond 32-bit offsets
        return pa.repeat(pa.scalar(text), n)
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data * n))


def constant(text: str, n: int) -> pa.DictionaryArray:
    """`n` copies of a text as a one-value dictionary: the Parquet writer encodes it without
    hashing every row (bronze's lineage costs 20% less to write); Delta stores it as text.
    The indices, all zero, are a slice of one shared array and need no bounds check."""
    zeros = ZEROS.slice(0, n) if n <= len(ZEROS) else pa.array(np.zeros(n, dtype=np.int32))
    return pa.DictionaryArray.from_arrays(zeros, pa.array([text]), safe=False)


ZEROS = pa.array(np.zeros(1 << 18, dtype=np.int32))


def conform_to(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """A table in the given schema: missing columns as nulls, columns not in it dropped."""
    columns = [
        table.column(f.name).cast(f.type)
        if f.name in table.column_names
        else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def count(mask: pa.ChunkedArray) -> int:
    """True values in a boolean column (nulls count as false)."""
    return pc.sum(mask).as_py() or 0


def fates(
    checked: pa.Table, seen: SeenKeys, keep_duplicates: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Which rows load now (a mask: valid, and their key certainly first in the file), and
    which wait for `SeenKeys.resolve` (ascending positions: valid, their key perhaps seen in an
    earlier batch). The rest are invalid or repeat a key earlier in their batch."""
    valid = pc.is_null(checked.column("_reason")).to_numpy(zero_copy_only=False)
    if keep_duplicates:
        return valid, np.array([], dtype=np.int64)
    hashes = checked.column("_key_hash").to_numpy(zero_copy_only=False)  # `add` types it
    where = np.flatnonzero(valid)
    fresh, doubtful = seen.add(hashes[where])
    load = np.zeros(len(valid), dtype=bool)
    load[where[fresh]] = True
    return load, where[doubtful]


def take_rows(table: pa.Table, index: np.ndarray) -> pa.Table:
    """The rows at `index` (ascending) of a table of many chunks, taken chunk by chunk: Arrow's
    `take` joins a chunked column's chunks first, copying it whole for a few rows."""
    parts, start = [], 0
    for batch in table.to_batches():
        lo, hi = np.searchsorted(index, [start, start + batch.num_rows])
        if hi > lo:
            parts.append(batch.take(pa.array(index[lo:hi] - start)))
        start += batch.num_rows
    return pa.Table.from_batches(parts, table.schema)


def latest_per_key(states: pa.Table, keys: list[str], version: str) -> pa.Table:
    """The newest state of each key in a file (a file may carry several states of one record)."""
    order = states.sort_by([(k, "ascending") for k in keys] + [(version, "descending")])
    n = order.num_rows
    if n < 2:
        return order
    repeats = np.ones(n - 1, dtype=bool)  # row i + 1 has row i's key (nulls equal to nulls)
    for key in keys:
        values = order.column(key).combine_chunks()
        after, before = values.slice(1), values.slice(0, n - 1)
        both_null = pc.and_(pc.is_null(after), pc.is_null(before))
        same = pc.coalesce(pc.equal(after, before), both_null)
        repeats &= same.to_numpy(zero_copy_only=False)
    return order.filter(pa.array(np.concatenate([[True], ~repeats])))


def quarantine_rows(
    result: FileResult,
    lines: Sequence[int] | pa.Array,
    texts: Sequence[str] | pa.ChunkedArray,
    reasons: Sequence[str] | pa.ChunkedArray,
    at: datetime,
) -> pa.Table:
    """Quarantine rows of one file: where each came from, its raw text and why."""
    n = len(lines)
    return pa.Table.from_arrays(
        [
            repeated(result.system, n),
            repeated(result.path, n),
            pa.array(lines, pa.int64()),
            repeated(result.content_hash, n),
            repeated(result.batch_id, n),
            pa.array(texts, pa.string()),
            pa.array(reasons, pa.string()),
            pa.repeat(pa.scalar(at, INGESTED_AT), n),
        ],
        schema=QUARANTINE_SCHEMA,
    )


RELEASED_ROWS = 1 << 16  # held rows decided and passed on at a time
SMALL_FILE = 8 << 20
GROUP_BYTES = 64 << 20
GROUP_FILES = 500


def groups(files: list[tuple[Path, str]]) -> Iterator[list[tuple[Path, str]]]:
    """Small files together (one commit for many snapshots), each large file alone."""
    group: list[tuple[Path, str]] = []
    size = 0
    for path, rel in files:
        bytes_ = path.stat().st_size
        if bytes_ > SMALL_FILE:
            yield [(path, rel)]
            continue
        if group and (size + bytes_ > GROUP_BYTES or len(group) >= GROUP_FILES):
            yield group
            group, size = [], 0
        group.append((path, rel))
        size += bytes_
    if group:
        yield group


@dataclass(frozen=True)
class LedgerState:
    """What the ledger knows of a system: hashes taken in (with their first path), and every
    (path, size, modification time) seen. A file changed under a known name is read again,
    also at the same size (a reading corrected in place); an unchanged one is not hashed again.
    Ledger rows written before modification times were kept hold None: (path, size) decides."""

    hashes: dict[str, str]
    paths: set[tuple[str, int, datetime | None]]

    def is_new(self, path: Path, rel: str) -> bool:
        """Whether the landed file at `path` (`rel` in landing) is not in the ledger as it is."""
        info = path.stat()
        seen = (rel, info.st_size, modified_time(info)) in self.paths
        return not seen and (rel, info.st_size, None) not in self.paths


def ledger_states(
    ledger_uri: str, systems: list[str], storage_options: dict | None = None
) -> dict[str, LedgerState]:
    """What the ledger knows of each of the systems, in one read (one row per delivered file)."""
    table = read_table(
        ledger_uri,
        ["system", "content_hash", "path", "size_bytes", "status", "modified_at"],
        f"system IN ({', '.join(map(literal, systems))})",
        storage_options,
    )
    states = {system: LedgerState({}, set()) for system in systems}
    for row in table.to_pylist() if table is not None else []:
        state = states[row["system"]]
        if row["status"] != "duplicate":
            state.hashes[row["content_hash"]] = row["path"]
        state.paths.add((row["path"], row["size_bytes"], row["modified_at"]))
    return states


def ledger_state(ledger_uri: str, system: str, storage_options: dict | None = None) -> LedgerState:
    """What the ledger knows of one system."""
    return ledger_states(ledger_uri, [system], storage_options)[system]


def ingest_landing(
    contract: Contract,
    lake,
    run_id: str = "",
    only: set[str] | None = None,
    progress: Callable[[int, int, FileResult], None] | None = None,
) -> list[FileResult]:
    """Ingest the contract's landing files (or just `only`, relative paths) not yet in the ledger.

    One ingest per system at a time (a lock file on a local lake); Delta's commit conflicts
    guard the same on object stores. Raises `FilesFailed`, once the other files are in, naming
    each file whose ingest raised an error.
    """
    job = SystemIngest(contract, lake, run_id)
    with closing(job), system_lock(lake, contract.id):  # the validator's connections, always
        state = ledger_state(job.ledger, contract.id, lake.storage_options)
        known = state.hashes
        root = lake.landing_root
        named = landing_files(root, contract) if only is None else named_files(root, contract, only)
        files = [(p, rel) for p, rel in named if state.is_new(p, rel)]
        results: list[FileResult] = []
        failed: list[tuple[str, Exception]] = []
        for group in groups(files):
            for result in ingest_apart(job, group, known, failed):
                results.append(result)
                if progress:
                    progress(len(results), len(files), result)
    if failed:
        raise FilesFailed(results, failed)
    return results


def ingest_apart(
    job: SystemIngest,
    group: list[tuple[Path, str]],
    known: dict[str, str],
    failed: list[tuple[str, Exception]],
) -> list[FileResult]:
    """A group's results; if the group fails, each of its files alone, so that one file that
    breaks the ingest (a reader's bug, an unreachable store) cannot hold back the others. A
    file that fails alone stays out of the ledger, to be tried again, and joins `failed`."""
    taken = dict(known)  # `ingest` adds the group's hashes: only once they are in
    try:
        results = job.ingest(group, taken)
    except Exception as err:  # any error: narrowed down to its file below, then reported
        if len(group) == 1:
            failed.append((group[0][1], err))
            return []
        return [r for item in group for r in ingest_apart(job, [item], known, failed)]
    known.update(taken)
    return results


class FilesFailed(Exception):
    """Files whose ingest raised an error; they are not in the ledger, so the next run tries
    them again. `results`: the files that went in (or were quarantined) all the same."""

    def __init__(self, results: list[FileResult], failed: list[tuple[str, Exception]]) -> None:
        named = "; ".join(f"{printable(rel)}: {type(err).__name__}: {err}" for rel, err in failed)
        super().__init__(f"{len(failed)} file(s) could not be ingested and stay pending: {named}")
        self.results = results
        self.failed = failed
