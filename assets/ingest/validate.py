"""Validation against the contract, as one DuckDB query per batch: normalise, type, check.

Each contract column becomes a typed value and a list of checks, each check an SQL expression that
is NULL when the row passes and a message naming the column, the value and the rule when it fails.
Normalisation: surrounding blanks (spaces of any kind, tabs, line breaks) trimmed, empty text is
missing, full-width digits and letters become ASCII, invisible marks (zero-width spaces,
direction marks) are dropped, and every time becomes UTC (naive local times are read in the
contract's time zone).

The query is on the ingest's hot path, so each expression takes the cheap road for the common
value and falls back only where it must: a batch's field whose every value is plain ASCII skips
normalising altogether (`plain_fields`); a check the batch's buffers show every row passes (a
fixed-width pattern, none missing, none too long, all allowed) is left out (`proven`); a column
whose every value is a local time written `YYYY-MM-DD hh:mm:ss` comes already parsed from its
bytes (`parsed_times`); other plain values skip the full-width work, the units' usual
`YYYY-MM-DD hh:mm:ss` skips ICU's time zone conversion (see `local_to_utc`).
"""

from __future__ import annotations

import dataclasses
import re
import string
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property, lru_cache
from itertools import combinations
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from assets.ingest.arrow_text import FixedPattern, fixed_pattern, is_plain
from assets.ingest.arrow_times import layout_times
from assets.registry import Column, Contract
from assets.registry.models import PARTITION

ASCII = string.digits + string.ascii_letters
FULLWIDTH = "".join(chr(ord(c) + 0xFEE0) for c in ASCII)  # ０..９, Ａ..Ｚ, ａ..ｚ
# Marks that change no text but make two values differ (RE2 class items): zero-width space,
# direction marks, embeddings and isolates, word joiner, a stray byte order mark. Not the
# joiners (U+200C, U+200D) or the soft hyphen, which Chinese and emoji text may need.
INVISIBLE = r"\x{200B}\x{200E}\x{200F}\x{202A}-\x{202E}\x{2060}\x{2066}-\x{2069}\x{FEFF}"
COMMON_FORMAT = "%Y-%m-%d %H:%M:%S"  # most exports; parsed first, without ICU
LOCAL_FORMATS = [
    "%Y/%m/%d %H:%M:%S",
    "%Y%m%d%H%M%S",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M",
]
MAX_OFFSET_HOURS = 14  # the farthest any zone is from UTC (Kiribati's Line Islands)
DATE_FORMATS = ["%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%d/%m/%Y"]
DEFAULT_MAX_LENGTH = 65_536
BLANK = r"[\s\p{Zs}]"  # RE2: a tab, line break, form feed or space of any kind (Unicode's Zs)
# Empty, or blanks and invisible marks alone: text that normalises to nothing (RE2).
ONLY_BLANKS = rf"^(?:{BLANK}|[{INVISIBLE}])*$"
ASCII_BLANK_CODES = (32, 9, 10, 12, 13)  # the same among ASCII: space, tab, LF, FF, CR
ASCII_BLANKS = " || ".join(f"chr({code})" for code in ASCII_BLANK_CODES)  # as SQL text
EARLIEST_EVENT = "2000-01-01"
# Times and dates outside years 1-9999 are refused: Python, pandas and Delta's readers cannot hold
# them, and DuckDB's `infinity` (which it parses) is one.
TIME_RANGE = ("0001-01-01", "9999-12-31 23:59:59")
SQL_TYPES = {
    "VARCHAR": "VARCHAR",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "BOOLEAN": "BOOLEAN",
    "TIMESTAMP": "TIMESTAMP",  # naive UTC inside the query (cheap to compare and shift)
    "DATE": "DATE",
}
ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "DATE": pa.date32(),
}


def literal(text: str) -> str:
    """An SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """An SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def re2(pattern: str) -> str:
    """A contract pattern in DuckDB's RE2 syntax (`\\uXXXX` is `\\x{XXXX}` there)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", r"\\x{\1}", pattern)


def shown(expr: str) -> str:
    """A value for a message: quoted, cut to 60 characters."""
    return f"'\"' || left(CAST({expr} AS VARCHAR), 60) || '\"'"


@dataclass(frozen=True)
class Source:
    """Where a contract column comes from in one batch: a field (with its type) or a constant."""

    expr: str  # SQL over the batch
    is_text: bool
    is_fraction: bool = False  # a typed float or decimal: a whole-number column checks it
    is_plain: bool = False  # text the normalising would leave as it is (see `plain_fields`)
    field: int | None = None  # the one delivered field it is, as delivered


@cache
def fixed_offset(zone: str) -> int | None:
    """The zone's UTC offset in seconds if it has not changed since EARLIEST_EVENT and does not
    change within a year (e.g. Asia/Shanghai since 1991); None for zones with daylight saving.
    Checked day by day: a zone's offset never changes and changes back within a day."""
    tz, day = ZoneInfo(zone), datetime.fromisoformat(EARLIEST_EVENT).replace(tzinfo=UTC)
    offsets = set()
    while day < datetime.now(UTC) + timedelta(days=366):
        offsets.add(day.astimezone(tz).utcoffset())
        day += timedelta(days=1)
    return int(offsets.pop().total_seconds()) if len(offsets) == 1 else None


def local_to_utc(local: str, zone: str) -> str:
    """SQL: a naive local TIMESTAMP as naive UTC. A fixed-offset zone is plain arithmetic;
    otherwise ICU's conversion, correct across daylight saving but several times slower."""
    offset = fixed_offset(zone)
    if offset is not None:
        return f"({local} - INTERVAL ({offset}) SECOND)"  # bracketed: offsets west are < 0
    return f"timezone('UTC', timezone({literal(zone)}, {local}))"


def utc_to_local(utc: str, zone: str) -> str:
    """SQL: a naive UTC TIMESTAMP as naive local time in the zone."""
    offset = fixed_offset(zone)
    if offset is not None:
        return f"({utc} + INTERVAL ({offset}) SECOND)"
    return f"timezone({literal(zone)}, timezone('UTC', {utc}))"


def typed_value(col: Column, text: str, zone: str) -> str:
    """SQL for the column's typed value from normalised text; times as naive UTC."""
    kind = col.physicalType
    if kind == "VARCHAR":
        return text
    if kind == "TIMESTAMP":
        formats = "[" + ", ".join(map(literal, LOCAL_FORMATS)) + "]"
        # coalesce() evaluates each fallback only for the rows still missing a value.
        return numeric_only(
            f"coalesce({local_to_utc(f'try_strptime({text}, {literal(COMMON_FORMAT)})', zone)}, "
            f"{iso_time(text)}, "
            f"{local_to_utc(f'try_strptime({text}, {formats})', zone)}, "
            f"CASE WHEN regexp_full_match({text}, '\\d{{10}}(\\.\\d+)?') "
            f"THEN timezone('UTC', to_timestamp(try_cast({text} AS DOUBLE))) END)",
            text,
        )
    if kind == "DATE":
        formats = "[" + ", ".join(map(literal, DATE_FORMATS)) + "]"
        dates = f"coalesce(try_cast({text} AS DATE), CAST(try_strptime({text}, {formats}) AS DATE))"
        return numeric_only(dates, text)
    if kind == "BOOLEAN":
        # Not `IN (...)`: DuckDB plans an IN list as a join, far slower than a cast.
        return (
            f"coalesce(try_cast({text} AS BOOLEAN), "
            f"CASE {text} WHEN '是' THEN true WHEN '否' THEN false END)"
        )
    if kind == "BIGINT":
        # DuckDB's cast rounds `2.5` and reads `0x10`, `1e3` and `1_000`; a whole number only.
        whole = f"regexp_full_match({text}, '[+-]?[0-9]+(\\.0*)?')"
        return f"CASE WHEN {whole} THEN try_cast({text} AS BIGINT) END"
    return f"try_cast({text} AS {SQL_TYPES[kind]})"


def in_type(kind: str, when: str) -> str:
    """SQL: a time as a value of a TIMESTAMP or DATE column's own type. A DATE compared with a
    TIMESTAMP is cast to one, which fails for a date past DuckDB's last timestamp."""
    return f"CAST({when} AS {kind})"


def iso_time(text: str) -> str:
    """SQL: an ISO 8601 time (a UTC offset, a zone's name or neither) as naive UTC; NULL for a
    time ending in a zone abbreviation, or in an offset more than 14 hours either way (the
    farthest zones are +14:00 and -12:00) or with minutes or seconds past 59, which DuckDB
    reads all the same: `+99` as 99 hours, `+08:99` as 9:39."""
    utc = f"timezone('UTC', try_cast({text} AS TIMESTAMPTZ))"
    offset = f"epoch(try_cast({text} AS TIMESTAMP) - {utc})"  # that cast ignores the offset
    return (
        f"CASE WHEN {zone_abbreviated(text)} "
        f"OR regexp_matches({text}, '[+-][0-9]{{2}}(:?[0-9]{{2}})?:?[6-9][0-9]$') "
        f"OR abs({offset}) > {MAX_OFFSET_HOURS * 3600} THEN NULL ELSE {utc} END"
    )


def zone_abbreviated(text: str) -> str:
    """SQL: whether a time ends in a zone abbreviation (`2026-11-16 08:00:00 CST`), which DuckDB
    reads as it knows it: CST as US Central, 14 hours off China Standard Time. UTC and GMT, with
    an offset or not (`UTC+8`), and a zone's full name (`Asia/Shanghai`) are read as written."""
    return (
        f"(regexp_matches({text}, '\\s[A-Za-z]{{2,5}}$') "
        f"AND NOT regexp_matches(lower({text}), '\\s(utc|gmt|ut|zulu)$'))"
    )


def time_range(kind: str) -> tuple[str, str]:
    """SQL: the first and last of TIME_RANGE in a TIMESTAMP or DATE column's own type."""
    first, last = TIME_RANGE
    return in_type(kind, f"TIMESTAMP '{first}'"), in_type(kind, f"TIMESTAMP '{last}'")


def numeric_only(parsed: str, text: str) -> str:
    """SQL: a time parsed from text that starts with a digit. DuckDB's casts and `strptime` also
    read words (`epoch` is 1970, `infinity` is past any time), which no unit means as a time."""
    return f"CASE WHEN ascii({text}) BETWEEN 48 AND 57 THEN {parsed} END"


def time_proofs(utc: pa.ChunkedArray) -> list[str]:
    """The checks every time of a column read from its bytes passes (`parsed_times`: none is
    missing or unreadable), as naive UTC, by its range: the years 1 to 9999, not before
    EARLIEST_EVENT, not past tomorrow (now, as this runs: the query's `now()` comes later)."""
    low, high = pc.min_max(utc).values()
    try:
        low, high = low.as_py(), high.as_py()
    except (ValueError, OverflowError):  # past Python's years: DuckDB decides
        low = high = None
    if low is None:
        return ["required", "type"]
    tomorrow = datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)
    first, last = (datetime.fromisoformat(t) for t in TIME_RANGE)
    proofs = {
        "required": True,
        "type": True,
        "years": first <= low and high <= last,
        "earliest": low >= datetime.fromisoformat(EARLIEST_EVENT),
        "future": high <= tomorrow,
    }
    return [check for check, holds in proofs.items() if holds]


Check = tuple[str, str]  # (SQL condition true when the row fails, SQL message)


@dataclass(frozen=True)
class Shortcuts:
    """What a batch's validation query may skip (`Validator.shortcuts`)."""

    plain: frozenset[int] = frozenset()  # positions of text fields that need no normalising
    # (column, check) pairs that every row passes, seen in the batch's buffers (`column_checks`)
    proven: frozenset[tuple[str, str]] = frozenset()
    times: dict[str, pa.ChunkedArray] = dataclasses.field(default_factory=dict)  # naive UTC

    @property
    def variant(self) -> tuple:
        """What makes the batch's query differ from another's (the times' names, not values)."""
        return self.plain, self.proven, frozenset(self.times)


def column_checks(
    col: Column,
    raw: str,
    value: str,
    is_event_time: bool,
    is_version: bool = False,
    proven: frozenset[str] = frozenset(),
) -> list[Check]:
    """The column's checks: a failing condition and a message naming column, value and rule.
    The event time must fall between EARLIEST_EVENT and tomorrow; a version time must not be in
    the future either, or no later state of its record would ever count as newer. The checks
    named in `proven` (of CHECKS) are left out: every row of the batch is known to pass them
    (`Validator.proven`)."""
    name, kind, opts = col.name, col.physicalType, col.logicalTypeOptions
    checks: dict[str, Check] = {}
    if col.required:
        checks["required"] = (f"{raw} IS NULL", f"'missing required {name}'")
    if kind != "VARCHAR":  # any text is valid text
        checks["type"] = (
            f"{raw} IS NOT NULL AND {value} IS NULL",
            f"'{name}: ' || {shown(raw)} || ' is not a valid {kind.lower()}'",
        )
    if kind == "DOUBLE":
        checks["finite"] = (
            f"NOT isfinite({value})",
            f"'{name}: ' || {shown(raw)} || ' is not a finite number'",
        )
    if kind in ("TIMESTAMP", "DATE"):
        first, last = time_range(kind)
        checks["years"] = (
            f"{value} NOT BETWEEN {first} AND {last}",
            f"'{name}: ' || {shown(raw)} || ' is outside the years 1 to 9999'",
        )
    if opts.pattern:
        checks["pattern"] = (
            f"NOT regexp_matches(CAST({value} AS VARCHAR), {literal(re2(opts.pattern))})",
            f"'{name}: ' || {shown(value)} || ' does not match ' || {literal(opts.pattern)}",
        )
    if (allowed := col.valid_values) is not None:
        values = ", ".join(literal(str(v)) for v in allowed)
        checks["allowed"] = (
            f"NOT list_contains([{values}], CAST({value} AS VARCHAR))",
            f"'{name}: ' || {shown(value)} || ' is not an allowed value'",
        )
    finite = f"isfinite({value}) AND " if kind == "DOUBLE" else ""
    for bound, op, word in ((opts.minimum, "<", "minimum"), (opts.maximum, ">", "maximum")):
        if bound is not None:
            side = "below" if op == "<" else "above"
            checks[word] = (
                f"{finite}{value} {op} {bound}",
                f"'{name}: ' || {shown(raw)} || ' is {side} the {word} {bound:g}'",
            )
    if kind == "VARCHAR":
        limit = max_length(col)
        # strlen (bytes) is cheap and never less than length (characters).
        checks["length"] = (
            f"strlen({value}) > {limit} AND length({value}) > {limit}",
            f"'{name}: ' || length({value}) || ' characters, longer than {limit}'",
        )
    if is_event_time or is_version:  # the loader makes both TIMESTAMP or DATE
        tomorrow = in_type(kind, "timezone('UTC', now()) + INTERVAL 1 DAY")
        checks["future"] = (
            f"{value} > {tomorrow}",
            f"'{name}: ' || {shown(raw)} || ' is in the future'",
        )
    if is_event_time:
        earliest = in_type(kind, f"TIMESTAMP '{EARLIEST_EVENT}'")
        checks["earliest"] = (
            f"{value} < {earliest}",
            f"'{name}: ' || {shown(raw)} || ' is before {EARLIEST_EVENT}'",
        )
    return [check for key, check in checks.items() if key not in proven]


def max_length(col: Column) -> int:
    """The most characters a text column's value may have."""
    return col.logicalTypeOptions.maxLength or DEFAULT_MAX_LENGTH


def reason_sql(checks: list[Check]) -> str:
    """`_reason`: NULL for a valid row, else every failing check's message. The messages are
    built only for failing rows (a cheap OR of the conditions gates them: a NULL condition
    neither fails the row nor hides another's TRUE)."""
    failed = " OR ".join(f"({cond})" for cond, _ in checks)
    messages = ", ".join(f"CASE WHEN {cond} THEN {msg} END" for cond, msg in checks)
    return f"CASE WHEN {failed} THEN concat_ws('; ', {messages}) END"


def normalised(source: Source) -> str:
    """Text trimmed of blanks (spaces of any kind, tabs, line breaks), empty as missing,
    full-width digits and letters as ASCII, without the invisible marks of INVISIBLE (which make
    `S1` and `S1` with a zero-width space two keys that look alike); typed sources as they are.
    Most values are ASCII with no blank at either end: those skip all but the check for blanks;
    other values are translated only when they hold a character to change (`translate` costs
    in step with its list of characters)."""
    if not source.is_text or source.is_plain:
        return source.expr
    text = source.expr
    full_width = f"\\x{{{ord(min(FULLWIDTH)):X}}}-\\x{{{ord(max(FULLWIDTH)):X}}}"
    translated = f"translate({text}, '{FULLWIDTH}', '{ASCII}')"
    to_change = f"[{full_width}{INVISIBLE}]"
    cleaned = f"regexp_replace({translated}, '[{INVISIBLE}]', '', 'g')"
    return (
        f"CASE WHEN strlen({text}) <> length({text}) "  # multi-byte: full width, marks possible
        # One regular expression finds the few values to change; only those are looked at again.
        f"THEN nullif(CASE WHEN regexp_matches({text}, '{to_change}|^{BLANK}|{BLANK}$') "
        f"THEN CASE WHEN regexp_matches({text}, '{to_change}') THEN {trimmed(cleaned)} "
        f"ELSE {trimmed(text)} END ELSE {text} END, '') "
        f"WHEN {ascii_edge(text)} THEN nullif(trim({text}, {ASCII_BLANKS}), '') "
        f"ELSE nullif({text}, '') END"
    )


def ascii_edge(text: str) -> str:
    """SQL: whether text starts with an ASCII blank or another control character (which
    trimming leaves as it is), ends with an ASCII blank, or is empty. Bytes, not characters,
    at the end: `right` would count a long text's characters."""
    ends = " OR ".join(f"suffix({text}, chr({code}))" for code in ASCII_BLANK_CODES)
    return f"(ascii({text}) <= 32 OR {ends})"


def trimmed(text: str) -> str:
    """SQL: text without the blanks at its ends (`BLANK`: also tabs and line breaks, which
    DuckDB's `trim` keeps)."""
    return f"regexp_replace({text}, '^{BLANK}+|{BLANK}+$', '', 'g')"


@lru_cache(maxsize=4096)  # a query costs ~17 ms; folder names (operators) are few and repeat
def normalised_text(value: str) -> str | None:
    """`value` as the validation query normalises a text field: the same SQL, so that what
    identifies a delivery (the values its path supplies) never differs from what its rows hold."""
    with duckdb.connect() as db:
        return db.execute(f"SELECT {normalised(Source('$1', is_text=True))}", [value]).fetchone()[0]


class Validator:
    """Validates batches of one contract; one DuckDB connection, reused batch after batch."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self.queries: dict[tuple, tuple[str, dict[str, int]]] = {}  # SQL, unchanged columns
        self.relations: dict[tuple, duckdb.DuckDBPyRelation] = {}  # the same queries, bound
        self.db = duckdb.connect()
        self.db.execute("SET threads = 2")
        self.db.execute("SET enable_progress_bar = false")
        # For both connections below (a batch's validation, another's quarantine texts): keeps
        # the buffer pool small.
        self.db.execute("SET memory_limit = '512MB'")
        # Quarantined rows' texts are built while the next batch is validated: a connection of
        # their own (one connection runs one query at a time).
        self.texts_db = self.db.cursor()
        for db in (self.db, self.texts_db):
            db.execute(f"SET TimeZone = {literal(contract.settings.timezone)}")

    def sources(
        self, schema: pa.Schema, plain: frozenset[int] = frozenset()
    ) -> dict[str, Source | None]:
        """Each contract column's source in a batch of this schema (None when absent). Fields
        are referred to by position (`field_alias`), so no delivered name can clash with ours;
        `plain` holds the positions of text fields that need no normalising."""
        present: dict[str, list[int]] = {}
        for i, name in enumerate(schema.names):
            present.setdefault(field_key(name), []).append(i)
        found: dict[str, Source | None] = {}
        for col in self.contract.columns:
            keys = dict.fromkeys(field_key(a) for a in col.source_fields)
            hits = [i for k in keys for i in present.get(k, [])]
            if not hits:
                found[col.name] = None
                continue
            # Several fields: files of two feed versions validated together, or one key written
            # two ways in different records. The first value present wins.
            kinds = [schema.field(i).type for i in hits]
            text = all(pa.types.is_string(k) or pa.types.is_large_string(k) for k in kinds)
            fraction = any(pa.types.is_floating(k) or pa.types.is_decimal(k) for k in kinds)
            aliases = [field_alias(i) for i in hits]
            # As text: fields of two types (DuckDB's coalesce takes one), and true or false for
            # a number (DuckDB would read them as 1 and 0).
            flag_as_number = col.physicalType in ("BIGINT", "DOUBLE") and any(
                pa.types.is_boolean(k) for k in kinds
            )
            if len(set(kinds)) > 1 or flag_as_number:
                aliases, text = [f"CAST({a} AS VARCHAR)" for a in aliases], True
            expr = first_value(aliases) if text else f"coalesce({', '.join(aliases)})"
            is_plain = text and len(set(kinds)) == 1 and all(i in plain for i in hits)
            field = hits[0] if expr == field_alias(hits[0]) else None
            found[col.name] = Source(expr, text, fraction, is_plain, field)
        return found

    @cached_property
    def claimed(self) -> set[str]:
        """The keys (`field_key`) of the delivered fields that the contract's columns take."""
        return {field_key(a) for col in self.contract.columns for a in col.source_fields}

    def extra_fields(self, schema: pa.Schema) -> list[str]:
        """Source fields that no contract column claims (schema drift: kept, with a warning)."""
        return [n for n in schema.names if field_key(n) not in self.claimed]

    def extra_columns(self, fields: Sequence[str]) -> list[str]:
        """The bronze column of each extra field: its `safe_name`, numbered from 2 where it
        would take a contract column's or the partition's name. Fields of one `safe_name`
        (`Remark`, `remark`, `re-mark`) share a column, in one batch as across files."""
        taken = {*self.contract.column_names, PARTITION}
        by_name: dict[str, str] = {}
        for base in map(safe_name, fields):
            if base not in by_name:
                column, number = base, 1
                while column in taken:
                    number += 1
                    column = f"{base}_{number}"
                taken.add(column)
                by_name[base] = column
        return [by_name[safe_name(field)] for field in fields]

    def field_group(self, name: str) -> str:
        """What makes delivered fields one field: for a field a contract column claims, its
        `field_key`; for an extra field, the bronze column it lands in."""
        key = field_key(name)
        return key if key in self.claimed else f"bronze column {safe_name(name)}"

    def as_delivered(self, group: str) -> bool:
        """Whether the text of a group of fields (`field_group`) is kept as delivered (extra
        fields), not normalised (the contract's columns)."""
        return group not in self.claimed

    @cached_property
    def fixed_patterns(self) -> dict[str, FixedPattern]:
        """The text columns whose pattern has one fixed width, and that pattern."""
        found = {}
        for col in self.contract.columns:
            pattern = col.logicalTypeOptions.pattern
            # The pattern as DuckDB runs it (`re2`), not as the contract spells it.
            if col.physicalType == "VARCHAR" and pattern and (fixed := fixed_pattern(re2(pattern))):
                found[col.name] = fixed
        return found

    def proven(
        self, table: pa.Table, plain: frozenset[int], times: dict[str, pa.ChunkedArray]
    ) -> frozenset[tuple[str, str]]:
        """The checks (column, check) that every row of the batch passes, seen in its buffers:
        no value missing, none too long, every one of a fixed-width pattern or an allowed value,
        of a column that is one plain field (its values are the column's as they are); and of
        the times read from their bytes (`parsed_times`), all, where their range shows it.
        A check left out of the query no longer makes DuckDB copy the column in."""
        found: set[tuple[str, str]] = set()
        for name, field in self.single_plain(table.schema, plain).items():
            col, column = self.contract.column(name), table.column(field)
            found |= {(name, check) for check in self.text_proofs(col, column)}
        for name, utc in times.items():
            found |= {(name, check) for check in time_proofs(utc)}
        return frozenset(found)

    def text_proofs(self, col: Column, column: pa.ChunkedArray) -> Iterator[str]:
        """The checks every value of a plain field passes, as the column `col`."""
        if column.null_count:
            return
        yield "required"
        if col.physicalType != "VARCHAR":
            return
        longest = pc.max(pc.binary_length(column)).as_py()  # bytes: never fewer than characters
        if longest is None or longest <= max_length(col):
            yield "length"
        if (fixed := self.fixed_patterns.get(col.name)) and all(
            map(fixed.matches_all, column.chunks)
        ):
            yield "pattern"
        if (allowed := col.valid_values) is not None:
            values = pa.array([str(v) for v in allowed], column.type)
            if pc.all(pc.is_in(column, value_set=values)).as_py():
                yield "allowed"

    def single_plain(self, schema: pa.Schema, plain: frozenset[int]) -> dict[str, int]:
        """Columns that are one plain text field as delivered (name: the field's position)."""
        sources = self.sources(schema, plain)
        return {
            col.name: source.field
            for col in self.contract.columns
            if (source := sources[col.name]) is not None
            and source.is_plain
            and source.field is not None
        }

    def unchanged(self, schema: pa.Schema, plain: frozenset[int]) -> dict[str, int]:
        """Text columns that are a plain field as delivered (name: the field's position): the
        batch's own Arrow column is their value, so the query need not copy it out."""
        return {
            name: field
            for name, field in self.single_plain(schema, plain).items()
            if self.contract.column(name).physicalType == "VARCHAR"
        }

    def query(
        self,
        schema: pa.Schema,
        also: tuple[str, ...] = (),
        plain: frozenset[int] = frozenset(),
        proven: frozenset[tuple[str, str]] = frozenset(),
        left_out: Sequence[str] = (),
        parsed: frozenset[str] = frozenset(),
    ) -> str:
        """The validating SELECT for batches of this schema; extra fields named in `also` and
        absent from the batch come out as missing text (a file's fields are the same in every
        batch); text fields at the positions in `plain` are taken as they are; the checks in
        `proven` (column, check) are left out, every row passing them (see `proven`); the columns
        named in `left_out` are checked but not returned; the columns named in `parsed` come
        as times already (`parsed_times`), in the batch's field `__t<i>`.

        Three steps, so that each expression is written once: normalised text (`__r<i>`), typed
        value (`__v<i>`), then the checks over both, folded into one `_reason`.
        """
        sources = self.sources(schema, plain)
        raws, values, outputs, checks = [], [], [], []
        for i, col in enumerate(self.contract.columns):
            source, kind = sources[col.name], SQL_TYPES[col.physicalType]
            raws.append(f"{normalised(source) if source else 'CAST(NULL AS VARCHAR)'} AS __r{i}")
            if source is None:
                value = "NULL"
            elif col.name in parsed:
                value = f"__t{i}"
            elif source.is_text:
                value = typed_value(col, f"__r{i}", self.contract.settings.timezone)
            elif kind == "TIMESTAMP":  # a typed source: naive times are local
                value = f"timezone('UTC', try_cast(__r{i} AS TIMESTAMPTZ))"
            elif kind == "BIGINT" and source.is_fraction:  # 2.5 would round
                value = f"CASE WHEN __r{i} = trunc(__r{i}) THEN try_cast(__r{i} AS BIGINT) END"
            else:
                value = f"try_cast(__r{i} AS {kind})"
            values.append(f"CAST({value} AS {kind}) AS __v{i}")
            if col.name not in left_out:
                outputs.append(f"__v{i} AS {ident(col.name)}")
            is_event_time = col.name == self.contract.event_time_column
            is_version = col.name == self.contract.settings.version_column
            checks += column_checks(
                col,
                f"__r{i}",
                f"__v{i}",
                is_event_time,
                is_version,
                frozenset(check for name, check in proven if name == col.name),
            )
        carried = self.carried(schema, also)
        extras = [ident(column) for column in carried]
        raws += [f"{sql} AS {column}" for column, sql in zip(extras, carried.values(), strict=True)]
        reason = reason_sql(checks)
        names = self.contract.column_names
        key = ", ".join(f"__v{names.index(k)}" for k in self.dedupe_key)
        event = f"__v{names.index(self.contract.event_time_column)}"
        kind = self.contract.column(self.contract.event_time_column).physicalType
        local = (
            utc_to_local(event, self.contract.settings.timezone) if kind == "TIMESTAMP" else event
        )
        # Only inside TIME_RANGE: shifting a time near DuckDB's last one would overflow.
        first, last = time_range(kind)
        date = f"CAST({local} AS DATE)"
        raws += [f"__t{names.index(name)}" for name in sorted(parsed)]
        if self.contract.event_time_column in parsed:  # its local date comes with it
            date = "__event_date"
            raws.append(date)
        event_date = f"CASE WHEN {event} BETWEEN {first} AND {last} THEN {date} END"
        return (
            f"WITH normalised AS (SELECT {', '.join(raws)}, _line, _row FROM batch), "
            f"typed AS (SELECT *, {', '.join(values)} FROM normalised) "
            f"SELECT {', '.join(outputs + extras)}, _line, _row, {reason} AS _reason, "
            f"hash({key}) AS _key_hash, {event_date} AS _event_date FROM typed"
        )

    def carried(self, schema: pa.Schema, also: tuple[str, ...]) -> dict[str, str]:
        """Each extra column and its SQL as text: the first value present among its fields
        (`repeated_field` refuses a row holding two), missing where the batch has none."""
        present = self.extra_fields(schema)
        fields = [*also, *(n for n in present if n not in also)]  # one order in every batch
        position = {name: i for i, name in enumerate(schema.names)}
        sources: dict[str, list[str]] = {}
        for name, column in zip(fields, self.extra_columns(fields), strict=True):
            sources.setdefault(column, [])
            if name in present:
                sources[column].append(f"CAST({field_alias(position[name])} AS VARCHAR)")
        return {column: first_value(sql, blanks_fill=True) for column, sql in sources.items()}

    @property
    def dedupe_key(self) -> list[str]:
        """Columns whose repetition within a file makes a duplicate row: the primary key, plus
        the version column where records change state (each state is its own row)."""
        version = self.contract.settings.version_column
        return [*self.contract.primary_key, *([version] if version else [])]

    def shortcuts(self, table: pa.Table) -> Shortcuts:
        """What the query for this batch may skip: normalising its plain fields (`plain_fields`),
        the pattern checks of the columns that match theirs (`matching`), and the parsing of
        times written in the common layout (`parsed_times`). Passes over the batch's bytes,
        which the ingest makes in its reading thread, a stage ahead."""
        plain = plain_fields(table)
        times = self.parsed_times(table, plain)
        return Shortcuts(plain, self.proven(table, plain, times), times)

    def local_dates(self, times: pa.ChunkedArray) -> pa.ChunkedArray:
        """The local date of each naive UTC time of `parsed_times` (a fixed-offset zone)."""
        return pc.cast(pc.add(times, self.offset), pa.date32())

    @cached_property
    def offset(self) -> pa.Scalar:
        """The contract's zone's offset from UTC, where it has one fixed offset."""
        return pa.scalar(fixed_offset(self.contract.settings.timezone), pa.duration("s"))

    def parsed_times(self, table: pa.Table, plain: frozenset[int]) -> dict[str, pa.ChunkedArray]:
        """The TIMESTAMP columns that are one plain field whose every value is a local time
        written `YYYY-MM-DD hh:mm:ss` (`layout_times`), as the query would type them: naive
        UTC. Only for a zone of one fixed offset, where that is plain arithmetic."""
        if fixed_offset(self.contract.settings.timezone) is None:
            return {}
        sources, found = self.sources(table.schema, plain), {}
        for col in self.contract.columns:
            source = sources[col.name]
            if col.physicalType != "TIMESTAMP" or source is None or source.field is None:
                continue
            if source.is_plain and (local := layout_times(table.column(source.field))) is not None:
                found[col.name] = pc.subtract(local, self.offset)
        return found

    def run(
        self,
        table: pa.Table,
        lines: pa.Array,
        also: Sequence[str] = (),
        shortcuts: Shortcuts | None = None,
    ) -> pa.Table:
        """Typed contract columns, extra fields as text (and those in `also`), `_line`, `_reason`
        (NULL = valid), `_key_hash` (for duplicates) and `_event_date` (local date of the event
        time). `shortcuts`: the batch's, if already known."""
        # Most batches' text needs no normalising; the query for them skips it (a third of its
        # cost) and leaves out the text it would return unchanged. Most batches' identifiers
        # match their fixed-width patterns: the query skips those checks (a fifth of its cost).
        # Few such variants per file.
        shortcuts = self.shortcuts(table) if shortcuts is None else shortcuts
        key = (table.schema, tuple(also), *shortcuts.variant)
        if key not in self.queries:
            plain, proven, parsed = shortcuts.variant
            unchanged = self.unchanged(table.schema, plain)
            query = self.query(table.schema, tuple(also), plain, proven, list(unchanged), parsed)
            self.queries[key] = (query, unchanged)
        sql, unchanged = self.queries[key]
        rows = pa.array(np.arange(table.num_rows, dtype=np.int64))
        batch = (
            table.rename_columns([field_alias(i) for i in range(table.num_columns)])
            .append_column("_line", lines)
            .append_column("_row", rows)
        )
        names = self.contract.column_names
        for name, times in sorted(shortcuts.times.items()):
            batch = batch.append_column(f"__t{names.index(name)}", times)
            if name == self.contract.event_time_column:
                batch = batch.append_column("__event_date", self.local_dates(times))
        self.db.register("batch", batch)
        try:
            result = self.relation(key, sql).to_arrow_table()
        finally:
            self.db.unregister("batch")  # the batch's memory is not held until the next
        order = result.column("_row").to_numpy()
        if len(order) and not (np.diff(order) > 0).all():  # DuckDB may reorder parallel scans
            result = result.take(pa.array(np.argsort(order)))
        for position, name in enumerate(self.contract.column_names):  # in order: each in place
            if name in unchanged:
                result = result.add_column(position, name, table.column(unchanged[name]))
        return conform(result.drop_columns(["_row"]), self.contract)

    def relation(self, key: tuple, sql: str) -> duckdb.DuckDBPyRelation:
        """The query as a relation, made once per variant and run for every batch: each run
        reads the batch registered then. Made afresh for every batch, a 5 KB query cost
        12 ms of parsing and binding in DuckDB's Python layer (twice, and a tokenising pass
        in Python); run from the relation, about 7 (measured by hand, a 10-row batch)."""
        if key not in self.relations:
            self.relations[key] = self.db.sql(sql)
        return self.relations[key]

    def record_texts(self, rows: pa.Table) -> pa.ChunkedArray:
        """Each row as JSON text of its fields as delivered (a quarantined row's raw text)."""
        query = "SELECT CAST(to_json(r) AS VARCHAR) FROM rows AS r"  # keeps the rows' order
        return self.texts_db.sql(query).to_arrow_table().column(0)

    def close(self) -> None:
        """Release the connections."""
        self.texts_db.close()
        self.db.close()


def first_value(texts: list[str], blanks_fill: bool = False) -> str:
    """SQL: the first of several text fields holding a value (not NULL, not empty as a CSV's
    empty cell is, and unless `blanks_fill`, not blanks alone, which normalising makes
    missing: see `holds_value`); one field as it is; none as missing text."""
    if not texts:
        return "CAST(NULL AS VARCHAR)"
    if len(texts) == 1:
        return texts[0]
    blank = "= ''" if blanks_fill else f"SIMILAR TO '{ONLY_BLANKS}'"
    held = [f"CASE WHEN {t} {blank} THEN NULL ELSE {t} END" for t in texts]
    return f"coalesce({', '.join(held)})"


def plain_fields(table: pa.Table) -> frozenset[int]:
    """Positions of the text fields that `normalised` would leave as they are in every row:
    ASCII only (so no full-width characters or invisible marks), no empty value and no blank at
    either end. Read from the Arrow buffers: a pass over the bytes, far cheaper than the SQL."""
    return frozenset(
        i
        for i, column in enumerate(table.columns)
        if (pa.types.is_string(column.type) or pa.types.is_large_string(column.type))
        and all(is_plain(chunk) for chunk in column.chunks)
    )


def repeated_field(
    table: pa.Table,
    group: Callable[[str], str] | None = None,
    as_delivered: Callable[[str], bool] | None = None,
) -> str | None:
    """Why a batch's fields are ambiguous, or None: two fields of one group (by default one
    name, blanks and case aside; see `Validator.field_group`) that both hold a value in one row
    leave unclear which is the column's. A cell of blanks alone holds one only in the groups
    `as_delivered` names, whose text is kept as delivered, not normalised. (Records of JSON
    lines whose keys differ only in case never do: their values are taken together.)"""
    group = group or field_key
    members: dict[str, list[int]] = {}
    for i, name in enumerate(table.column_names):
        members.setdefault(group(name), []).append(i)
    for key, fields in members.items():
        if len(fields) < 2:
            continue
        blanks_fill = bool(as_delivered and as_delivered(key))
        held = {i: holds_value(table.column(i), blanks_fill) for i in fields}
        for a, b in combinations(held, 2):  # every pair: three spellings are three pairs
            if (held[a] & held[b]).any():
                first, second = table.column_names[a], table.column_names[b]
                where = f"(fields {a + 1} and {b + 1})"
                if field_key(first) == field_key(second):
                    return f"field {first!r} appears twice {where}"
                return f"fields {first!r} and {second!r} {where} both fill {key}"
    return None


def holds_value(column: pa.ChunkedArray, blanks_fill: bool = False) -> np.ndarray:
    """Which rows hold a value: not null and, for text, neither empty (a CSV's empty cell) nor,
    unless `blanks_fill`, blanks alone (which normalising makes missing). Arrow's regular
    expressions are RE2's, as DuckDB's are: the same patterns as `first_value`'s."""
    held = pc.is_valid(column)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        if blanks_fill:
            held = pc.and_kleene(held, pc.greater(pc.binary_length(column), 0))
        else:
            held = pc.and_kleene(held, pc.invert(pc.match_substring_regex(column, ONLY_BLANKS)))
    return held.to_numpy(zero_copy_only=False).astype(bool)


def field_key(name: str) -> str:
    """What a delivered field name is matched by: full-width letters and digits as ASCII
    (NFKC), surrounding blanks, case and invisible format characters (Cf) aside."""
    visible = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")
    return unicodedata.normalize("NFKC", visible).strip().lower()


def field_alias(position: int) -> str:
    """How the validation query refers to the delivered field at `position` of a batch."""
    return f"__f{position}"


def safe_name(name: str) -> str:
    """A delivered field name as a column name: lower case letters (Chinese ones too: `备注`
    stays `备注`), digits and underscores, starting with a letter."""
    cleaned = re.sub(r"[^\w]+", "_", field_key(name)).strip("_")
    return cleaned if cleaned and cleaned[0].isalpha() else f"f_{cleaned}"


def conform(result: pa.Table, contract: Contract) -> pa.Table:
    """Arrow types exactly as bronze stores them (UTC timestamps, int64, ...)."""
    fields = []
    for field in result.schema:
        col = next((c for c in contract.columns if c.name == field.name), None)
        fields.append(pa.field(field.name, ARROW_TYPES[col.physicalType] if col else field.type))
    return result.cast(pa.schema(fields))
