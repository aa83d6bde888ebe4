"""Readers for what the units deliver. Each streams bounded batches of `RawBatch`.

Formats: CSV (UTF-8, UTF-8 with BOM, GBK/GB18030; delimiter and quoting from the contract),
JSON lines, Parquet, GBFS JSON (2.3 and 3.0) and Open311 GeoReport v2 (JSON and XML). Readers
know formats, never systems: what a system calls its fields is in its contract.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from assets.ingest.arrow_types import repeated_child, retyped_schema
from assets.ingest.batches import RawBatch, Reject, UnreadableFile, coalesced
from assets.ingest.csv_lines import RowLines, quote_left_open
from assets.ingest.documents import (
    SURROGATE_ESCAPE,
    Refused,
    document_records,
    first_repeat,
    lone_surrogate,
    named_twice,
    not_an_object,
    too_much,
)
from assets.ingest.scan import FileScan, scan_file
from assets.ingest.utf8_copy import utf8_copy
from assets.registry import Contract

BATCH_ROWS = 128 * 1024  # 10M rows peaked at 950 MB with 250,000 a batch, 730 MB with this
CSV_BLOCK = 1 << 20  # Arrow keeps memory flat with small blocks; a row must fit in one
MAX_CSV_BLOCK = 256 << 20
LINE_FORMATS = ("csv", "jsonl")  # text read line by line: a line that does not decode is a reject


def read_batches(path: Path, contract: Contract, scan: FileScan) -> Iterator[RawBatch]:
    """The file's rows in bounded batches, by the contract's file format."""
    if scan.size == 0:
        raise UnreadableFile("empty file (0 bytes)")
    fmt = contract.settings.file_format
    if scan.nul_offset is not None and fmt != "parquet":
        raise UnreadableFile(f"binary content: NUL byte at offset {scan.nul_offset}")
    if fmt in LINE_FORMATS and (scan.damaged or scan.encoding == "utf-16" or scan.cr_lines):
        yield from read_copy(path, contract, scan)
    else:
        yield from READERS[fmt](path, contract, scan)


def delivered_rows(path: Path, scan: FileScan, contract: Contract) -> int:
    """How many rows a file that cannot be read holds, as far as its bytes tell: the non-empty
    data lines of text, the footer's count for Parquet (1 for a document, or when unknown)."""
    fmt = contract.settings.file_format
    if fmt == "parquet":
        try:
            return pq.read_metadata(path).num_rows
        except (pa.ArrowException, OSError, UnicodeDecodeError):
            return 1
    if fmt not in LINE_FORMATS:
        return 1
    header = 1 if fmt == "csv" else 0
    if header and scan.quoted and (records := csv_records(path, scan, contract)) is not None:
        return max(records - header, 0)  # quoted values may hold line breaks
    if scan.cr_lines or scan.encoding == "utf-16":  # the scan's line counts do not hold
        with open(path, encoding=scan.encoding, errors="replace") as handle:  # any line ending
            filled = sum(line.lstrip("\ufeff") not in ("\n", "") for line in handle)
        return max(filled - header, 0)
    return max(scan.lines - len(scan.blank_lines) - header, 0)


def csv_records(path: Path, scan: FileScan, contract: Contract) -> int | None:
    """The non-empty CSV records of a file, header included, or None when Python's csv cannot
    tell them (strict: a quote never closed is an error, not a last record swallowing the rest)."""
    settings = contract.settings
    with open(path, encoding=scan.encoding, errors="replace", newline="") as handle:
        records = csv.reader(
            handle, delimiter=settings.delimiter, quotechar=settings.quote_char, strict=True
        )
        try:
            return sum(1 for record in records if record)
        except csv.Error:
            return None


def read_copy(path: Path, contract: Contract, scan: FileScan) -> Iterator[RawBatch]:
    """A text file read from a UTF-8 copy: a UTF-16 one, one whose lines end in "\\r" alone, or
    one some of whose lines do not decode (those lines rejected, the rest read)."""
    with utf8_copy(path, scan.encoding, scan.cr_lines) as (copy, rejects):
        clean = scan_file(copy, "utf-8", scan.content_hash, contract.settings.quote_char)
        is_csv = contract.settings.file_format == "csv"
        # A rejected line is left empty in the copy: one before the copy's header was the header.
        if is_csv and rejects and rejects[0].line < header_line(clean):
            raise UnreadableFile(f"the header line is {rejects[0].reason}")
        yield from read_batches(copy, contract, clean)  # a UTF-16 copy may end lines in "\r"
        if rejects:
            yield RawBatch(pa.table({}), pa.array([], pa.int64()), rejects)


def read_csv(path: Path, contract: Contract, scan: FileScan) -> Iterator[RawBatch]:
    """CSV through Arrow's streaming reader, every field as text; bad rows become rejects."""
    settings = contract.settings
    pending: list[Reject] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
        pending.append(Reject(row.number, row.text, reason))  # placed on its line below
        return "skip"

    header, header_ends = csv_header(path, scan, contract, header_line(scan))
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                encoding="utf8" if scan.encoding == "utf-8" else scan.encoding,
                block_size=csv_block(scan),
                use_threads=False,  # serial parsing gives each rejected row its number
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=settings.delimiter,
                quote_char=settings.quote_char,
                newlines_in_values=True,  # else a quoted line break breaks the block chunker
                invalid_row_handler=on_invalid,
            ),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string())),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        raise UnreadableFile(f"cannot parse as CSV ({scan.encoding}): {first_line(err)}") from err
    rows = RowLines(scan.blank_lines, values_may_break=scan.quoted, header_line=header_ends)
    columns = named(header)
    try:
        for batches in coalesced(reader, BATCH_ROWS):  # a 1 MB block each
            table = pa.Table.from_batches(batches)
            if columns != header:
                table = table.rename_columns(columns)
            rejects, pending[:] = list(pending), []
            yield RawBatch(table, *rows.place(table, rejects))
    except (pa.ArrowInvalid, UnicodeDecodeError) as err:
        raise UnreadableFile(f"CSV read failed ({scan.encoding}): {first_line(err)}") from err
    lines, rejects = rows.place(pa.table({}), list(pending), final=True)
    if problem := rows.open_quote(path, scan.lines, settings.quote_char):
        raise UnreadableFile(problem)  # before any commit: the whole file is quarantined
    if rejects:
        yield RawBatch(pa.table({}), lines, rejects)


def csv_block(scan: FileScan) -> int:
    """The smallest power-of-two block, from 1 MB, that holds twice the file's longest line."""
    block = CSV_BLOCK
    while block < 2 * scan.longest_line and block < MAX_CSV_BLOCK:
        block *= 2
    return block


def header_line(scan: FileScan) -> int:
    """The header's line: the first that is not empty (Arrow's reader skips empty lines before
    it, as some exports begin with one)."""
    line = 1
    for blank in scan.blank_lines:  # sorted
        if blank != line:
            break
        line += 1
    return line


def csv_header(path: Path, scan: FileScan, contract: Contract, line: int) -> tuple[list[str], int]:
    """The column names of the header starting on `line` (so that every column can be read as
    text), and the line it ends on (a quoted name may hold a line break)."""
    settings = contract.settings
    encoding = "utf-8-sig" if scan.encoding == "utf-8" else scan.encoding
    consumed: list[str] = []  # the header's text, as csv read it
    with open(path, encoding=encoding, newline="") as handle:
        lines = noted(itertools.islice(handle, line - 1, None), consumed)
        reader = csv.reader(lines, delimiter=settings.delimiter, quotechar=settings.quote_char)
        try:
            names = next(reader, [])
        except UnicodeDecodeError as err:
            raise UnreadableFile(f"not valid {scan.encoding} in the header: {err.reason}") from err
        except csv.Error as err:  # a name past csv's size limit: its quote was never closed
            raise UnreadableFile(f"{open_header(line)}: {err}") from err
    text = "".join(consumed)
    ends = line + text.count("\n") - text.endswith("\n")  # lines by "\n", as the scan counts
    if ends > line:
        check_header_lines(path, scan, contract, names, line, ends)
    if not any(n.strip() for n in names):
        raise UnreadableFile("no header line")
    return names, ends


def noted(lines: Iterator[str], into: list[str]) -> Iterator[str]:
    """`lines`, each also added to `into` as it is read."""
    for text in lines:
        into.append(text)
        yield text


def check_header_lines(
    path: Path, scan: FileScan, contract: Contract, names: list[str], line: int, ends: int
) -> None:
    """A header from `line` to `ends` holds a quoted name with a line break; refuse it when that
    quote was left open (the header runs to the end), or when the name holds the delimiter too:
    a stray quote further down closed it, and the rows between would vanish into the name."""
    quote, delimiter = contract.settings.quote_char, contract.settings.delimiter
    if ends >= scan.lines and quote_left_open(path, line, scan.lines, quote):
        after = scan.lines - line
        raise UnreadableFile(f"{open_header(line)}: the {after} lines after it would be names")
    for name in names:
        if "\n" in name and delimiter in name:
            raise UnreadableFile(
                f"a quoted name in the header on line {line} holds line breaks and the delimiter "
                f"{delimiter!r}: its quote is closed only by a stray one further down"
            )


def delimiter_hint(names: list[str], contract: Contract) -> str:
    """For a CSV whose header read as one field holding another common delimiter: a hint that
    the unit changed its delimiter (else "")."""
    if contract.settings.file_format != "csv" or len(names) != 1:
        return ""
    declared = contract.settings.delimiter
    found = [d for d in (",", ";", "\t", "|") if d in names[0] and d != declared]
    if not found:
        return ""
    return f" (the header is one field holding {found[0]!r}; the contract says {declared!r})"


def open_header(line: int) -> str:
    """The start of the reason a header with a quote never closed cannot be read."""
    return f"a quote opened in the header on line {line} is never closed"


def named(names: list[str]) -> list[str]:
    """Header names, a blank one (an export's trailing delimiter) named by its position."""
    return [name if name.strip() else f"column_{i}" for i, name in enumerate(names, start=1)]


def read_jsonl(path: Path, contract: Contract, scan: FileScan) -> Iterator[RawBatch]:
    """JSON lines: one object per line; a line that is not one becomes a reject."""
    with open(path, encoding=scan.encoding, errors="strict") as handle:
        head = handle.read(4096).lstrip("\ufeff \t\r\n")
        if head.startswith("["):
            raise UnreadableFile("a JSON array where JSON lines (one object per line) are expected")
        handle.seek(0)
        records: list[dict] = []
        lines: list[int] = []
        rejects: list[Reject] = []
        try:
            for number, text in enumerate(handle, start=1):
                parse_json_line(
                    text.lstrip("\ufeff") if number == 1 else text, number, records, lines, rejects
                )
                if len(records) + len(rejects) >= BATCH_ROWS:
                    yield text_batch(records, lines, rejects)
                    records, lines, rejects = [], [], []
        except UnicodeDecodeError as err:
            raise UnreadableFile(
                f"not valid {scan.encoding}: {err.reason} at byte {err.start}"
            ) from err
    if records or rejects:
        yield text_batch(records, lines, rejects)


def parse_json_line(text: str, number: int, records: list, lines: list, rejects: list) -> None:
    """Add one line's object to `records`, or a reject saying why it is not one."""
    stripped = text.strip()
    if not stripped:
        return
    try:
        value = JSON_LINE.decode(stripped)
    except json.JSONDecodeError as err:
        rejects.append(Reject(number, stripped, f"invalid JSON: {err.msg} at column {err.colno}"))
        return
    except RepeatedKey as err:
        rejects.append(Reject(number, stripped, named_twice(err.key)))
        return
    except (RecursionError, ValueError) as err:  # nested too deep; an integer of 4,301+ digits
        rejects.append(Reject(number, stripped, f"invalid JSON: {too_much(err)}"))
        return
    if not isinstance(value, dict):
        rejects.append(Reject(number, stripped, not_an_object(value)))
        return
    if "\\u" in stripped and SURROGATE_ESCAPE.search(stripped) and (why := lone_surrogate(value)):
        rejects.append(Reject(number, stripped, why))
        return
    records.append(value)
    lines.append(number)


class RepeatedKey(ValueError):
    """A JSON object names one key twice: which value the unit meant is unclear."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def distinct_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """A JSON object's pairs as a dict, refused if a key repeats (`json` keeps the last). A JSON
    line is one record, so raising at the first repeat is enough; a document's records are
    marked instead (`documents.noting_repeats`), as one bad record must not refuse the rest."""
    record = dict(pairs)
    if len(record) < len(pairs):
        raise RepeatedKey(first_repeat(pairs))
    return record


JSON_LINE = json.JSONDecoder(object_pairs_hook=distinct_keys)  # 17% slower than `json.loads`


def as_text(value: object) -> str | None:
    """A JSON value as the text validation parses: strings as they are, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def text_batch(records: list[dict], lines: list[int], rejects: list[Reject]) -> RawBatch:
    """Records with any keys as a text table (the union of their keys, in first-seen order)."""
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    table = pa.table(
        {n: pa.array([as_text(r.get(n)) for r in records], pa.string()) for n in names}
    )
    if not names:
        table = pa.table({"_empty": pa.nulls(len(records), pa.string())}).drop(["_empty"])
    return RawBatch(table, pa.array(lines, pa.int64()), rejects)


def read_parquet(path: Path, contract: Contract, scan: FileScan) -> Iterator[RawBatch]:
    """Parquet row groups in bounded batches; columns keep their types (but those DuckDB cannot
    read). Damage found past the footer, in a row group, quarantines the whole file."""
    try:
        parquet = pq.ParquetFile(path)
    except MemoryError:  # Arrow's too: the file is not damaged, the run is short of memory
        raise
    except (pa.ArrowException, OSError, UnicodeDecodeError) as err:  # the last: a column's name
        raise UnreadableFile(f"not a readable Parquet file: {first_line(err)}") from err
    schema = parquet.schema_arrow
    for field in schema:
        if twice := repeated_child(field.type):
            raise UnreadableFile(f"field {field.name!r} holds two fields named {twice}")
    readable = retyped_schema(schema, duckdb_readable)  # at any depth
    start = 1
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            table = pa.Table.from_batches([batch])
            lines = pa.array(np.arange(start, start + batch.num_rows, dtype=np.int64))
            start += batch.num_rows
            # Fitted first: dictionaries and JSON become plain text, whose bytes the cast does
            # not check, so that text_checked finds their bad rows as it does for any text.
            yield text_checked(table if readable == schema else fitted(table, readable), lines)
    except MemoryError:
        raise
    except (pa.ArrowException, OSError) as err:  # before any commit: nothing of it is loaded
        read = f"read {start - 1:,} of {parquet.metadata.num_rows:,} rows"
        raise UnreadableFile(f"damaged Parquet data ({read}): {first_line(err)}") from err


def text_checked(table: pa.Table, lines: pa.Array) -> RawBatch:
    """A Parquet batch whose rows holding text that is not UTF-8 (Parquet writers need not
    check) are rejects: DuckDB fails on such text and takes its connection down, and a Delta
    table holding it cannot be read back. Such text deeper in a field refuses the file."""
    bad = np.zeros(table.num_rows, dtype=bool)
    reasons: dict[int, str] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            column.validate(full=True)
            continue
        except pa.ArrowInvalid:
            if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
                raise UnreadableFile(f"field {name!r} holds text that is not UTF-8") from None
        shown = []
        for row, value in enumerate(column.cast(pa.large_binary()).to_pylist()):
            try:
                shown.append(None if value is None else value.decode())
            except UnicodeDecodeError as err:
                shown.append(value.decode(errors="backslashreplace"))
                bad[row] = True
                why = f"{name}: not valid utf-8: byte 0x{value[err.start]:02x} at byte {err.start}"
                reasons[row] = f"{reasons[row]}; {why}" if row in reasons else why
        table = table.set_column(table.column_names.index(name), name, pa.array(shown))
    if not bad.any():
        return RawBatch(table, lines)
    rejects = [
        Reject(lines[row].as_py(), row_text(table, row), reasons[row])
        for row in np.flatnonzero(bad)
    ]
    keep = pa.array(~bad)
    return RawBatch(table.filter(keep), lines.filter(keep), rejects)


def row_text(table: pa.Table, row: int) -> str:
    """A row as JSON text: each value as Python reads it, or as Arrow writes it where Python
    cannot hold it (a date past year 9999)."""
    values = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        value = column.slice(row, 1)
        try:
            values[name] = value.to_pylist()[0]
        except (ValueError, OverflowError):
            try:
                values[name] = value.cast(pa.string()).to_pylist()[0]
            except pa.ArrowException:  # nested: Arrow's own rendering
                values[name] = value.to_string()
    return json.dumps(values, ensure_ascii=False, default=str)


def fitted(table: pa.Table, readable: pa.Schema) -> pa.Table:
    """`table` in the types validation takes; a value they cannot hold (a timestamp past year
    294247) refuses the file, as DuckDB would fail on it and take its connection down."""
    try:
        return table.cast(readable)
    except pa.ArrowInvalid as err:
        raise UnreadableFile(f"a value past what validation can hold: {first_line(err)}") from err


def duckdb_readable(kind: pa.DataType) -> pa.DataType:
    """A type validation (DuckDB) and Arrow's row selection can take in place of `kind`: half
    floats widened, 256-bit decimals as text (parsed like any delivered number), text and
    bytes views as plain text and bytes, dictionaries (pandas' categoricals) and extension
    types (JSON, UUID) as what they hold, maps as lists of key-value pairs (DuckDB refuses a
    map naming one key twice); everything else as it is."""
    if pa.types.is_float16(kind):
        return pa.float32()
    if pa.types.is_timestamp(kind) and kind.unit in ("s", "ms"):
        return pa.timestamp("us", kind.tz)  # a value past DuckDB's range fails here, not there
    if pa.types.is_string_view(kind):
        return pa.string()
    if pa.types.is_binary_view(kind):
        return pa.binary()
    if isinstance(kind, pa.Decimal256Type):
        return pa.string()
    if pa.types.is_dictionary(kind):
        return kind.value_type
    if isinstance(kind, pa.BaseExtensionType):
        return kind.storage_type
    if pa.types.is_map(kind):
        return pa.list_(pa.struct([("key", kind.key_type), ("value", kind.item_type)]))
    return kind


def read_document(path: Path, contract: Contract, scan: FileScan) -> Iterator[RawBatch]:
    """GBFS and Open311 documents: small by nature, parsed whole, records numbered from 1."""
    try:
        text = path.read_bytes().decode(scan.encoding).lstrip("\ufeff")
    except UnicodeDecodeError as err:
        raise UnreadableFile(
            f"not valid {scan.encoding}: {err.reason} at byte {err.start}"
        ) from err
    records = document_records(text, contract)
    for start in range(0, max(len(records), 1), BATCH_ROWS):
        objects, numbers, rejects = [], [], []
        for number, record in enumerate(records[start : start + BATCH_ROWS], start=start + 1):
            if isinstance(record, Refused):
                rejects.append(Reject(number, record.raw, record.reason))
            else:
                objects.append(record)
                numbers.append(number)
        yield text_batch(objects, numbers, rejects)


def first_line(err: BaseException) -> str:
    """The first line of an error message (Arrow's can run long)."""
    return str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__


READERS: dict[str, Callable[[Path, Contract, FileScan], Iterator[RawBatch]]] = {
    "csv": read_csv,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "gbfs": read_document,
    "open311_json": read_document,
    "open311_xml": read_document,
}
