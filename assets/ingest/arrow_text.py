"""What a text column's Arrow buffers tell without a query: whether its values are plain, and
whether they all match a contract pattern of one fixed width.

Plain text (`is_plain`) is ASCII, not empty, with no blank or control character at either end:
what the validation query's normalising would leave as it is.

Most identifiers' patterns are a fixed run of literal characters and character classes
(`^GM\\d{8}$`, `^\\d{17}[\\dX]$`): every match has one length and, at each position, a byte from
one set. For plain ASCII text that is a few numpy comparisons over the batch's Arrow buffers,
where DuckDB's regular expression costs about 60 ns a value. A batch whose every value matches
skips the pattern's check in its validation query; any other batch keeps the check, so the
reasons given are the same. The byte check must agree with RE2 wherever it answers: a pattern
with anything it does not know is not a FixedPattern, and keeps its regular expression.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

BLANK_OR_CONTROL = ord(" ")  # this byte and those below it: a space, tab, line break, ...
DIGITS = frozenset(string.digits.encode())
LITERALS = frozenset((string.ascii_letters + string.digits + "_-:/ ,;=@#%&'\"<>~`!").encode())
ESCAPED = frozenset(b"\\.^$|?*+()[]{}-/")  # a metacharacter made literal by a backslash
# RE2 reads `{8}` as a count, but `{08}` as text, and refuses counts over 1000.
REPEAT = re.compile(r"\{(0|[1-9]\d{0,2}|1000)\}")


@dataclass(frozen=True)
class Run:
    """Positions `start` to `stop` of a match, each holding a byte of one set."""

    start: int
    stop: int
    allowed: frozenset[int]


@dataclass(frozen=True)
class FixedPattern:
    """A pattern whose matches all have `width` bytes, each position's from its run's set."""

    width: int
    runs: tuple[Run, ...]

    def matches_all(self, chunk: pa.Array) -> bool:
        """Whether every value of a string chunk of plain ASCII text matches (NULLs aside)."""
        if len(chunk) == chunk.null_count:
            return True
        rows = fixed_width_rows(chunk, self.width)
        return rows is not None and all(
            holds(rows[:, r.start : r.stop], r.allowed) for r in self.runs
        )


def is_plain(chunk: pa.Array) -> bool:
    """Whether every value of a string chunk is ASCII, not empty and without a byte of 0x20
    or below (a space, tab, line break or other control character) at either end (NULLs
    aside)."""
    if len(chunk) == chunk.null_count:
        return True
    offsets, starts, ends, data = text_bytes(chunk)
    if (ends <= starts).any():  # an empty value
        return False
    text = data[offsets[0] : offsets[-1]]
    if text.max() >= 0x80:
        return False
    if not (text <= BLANK_OR_CONTROL).any():
        return True
    # Where every value has one length (codes, times), the first and last bytes are columns
    # of a view: no gathering them one by one.
    if (rows := fixed_width_rows(chunk, int(ends[0] - starts[0]))) is not None:
        first, last = rows[:, 0], rows[:, -1]
    else:
        first, last = data[starts], data[ends - 1]
    return not ((first <= BLANK_OR_CONTROL).any() or (last <= BLANK_OR_CONTROL).any())


def text_bytes(chunk: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A string chunk's offsets, where each non-NULL value starts and ends, and its bytes."""
    size = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    validity, offsets_buffer, data_buffer = chunk.buffers()
    offsets = np.frombuffer(offsets_buffer, size)[chunk.offset : chunk.offset + len(chunk) + 1]
    starts, ends = offsets[:-1], offsets[1:]
    if validity is not None and chunk.null_count:
        valid = chunk.is_valid().to_numpy(zero_copy_only=False)
        starts, ends = starts[valid], ends[valid]
    return offsets, starts, ends, np.frombuffer(data_buffer, np.uint8)


def fixed_pattern(pattern: str) -> FixedPattern | None:
    """The pattern (in RE2's syntax, as DuckDB runs it) as a FixedPattern, or None where it is
    not one: unanchored, of several widths (`{1,2}`, `?`, `*`, `|`) or with anything but ASCII
    literals, `\\d` and classes of them (`[A-Z0-9]`). A construct it does not know makes it
    None: that pattern is always left to the regular expression."""
    if not (pattern.startswith("^") and pattern.endswith("$")) or pattern.endswith("\\$"):
        return None
    body, sets = pattern[1:-1], []
    at = 0
    while at < len(body):
        parsed = atom(body, at)
        if parsed is None:
            return None
        allowed, at = parsed
        count = 1
        if repeat := REPEAT.match(body, at):
            count, at = int(repeat.group(1)), repeat.end()
        sets += [allowed] * count
    if not sets:
        return None
    runs, start = [], 0
    for i in range(1, len(sets) + 1):
        if i == len(sets) or sets[i] != sets[start]:
            runs.append(Run(start, i, sets[start]))
            start = i
    return FixedPattern(len(sets), tuple(runs))


def atom(body: str, at: int) -> tuple[frozenset[int], int] | None:
    """The byte set of the pattern's atom at `at` and where the next one starts, or None."""
    char = body[at]
    if char == "\\":
        escaped = escape(body[at + 1 : at + 2])
        return (escaped, at + 2) if escaped else None
    if char == "[":
        close = body.find("]", at + 1)
        if close < 0:
            return None
        allowed = character_class(body[at + 1 : close])
        return (allowed, close + 1) if allowed else None
    return (frozenset(char.encode()), at + 1) if ord(char) in LITERALS else None


def escape(letter: str) -> frozenset[int] | None:
    """The bytes of an escape: `\\d`, or a metacharacter taken literally."""
    if letter == "d":
        return DIGITS
    if letter and ord(letter) in ESCAPED:
        return frozenset(letter.encode())
    return None


def character_class(inside: str) -> frozenset[int] | None:
    """The bytes of a class such as `A-Z0-9` or `\\dX`; None for a negated or unusual one."""
    if not inside or inside.startswith("^"):
        return None
    allowed: set[int] = set()
    at = 0
    while at < len(inside):
        if inside[at] == "\\":
            escaped = escape(inside[at + 1 : at + 2])
            if escaped is None:
                return None
            allowed |= escaped
            at += 2
        elif at + 2 < len(inside) and inside[at + 1] == "-":
            first, last = ord(inside[at]), ord(inside[at + 2])
            if not (first in LITERALS and last in LITERALS and first <= last):
                return None
            allowed |= set(range(first, last + 1))
            at += 3
        elif ord(inside[at]) in LITERALS:
            allowed.add(ord(inside[at]))
            at += 1
        else:
            return None
    return frozenset(allowed)


def fixed_width_rows(chunk: pa.Array, width: int) -> np.ndarray | None:
    """The chunk's non-NULL values as rows of a byte matrix, or None if one is not `width`
    bytes long."""
    offsets, starts, ends, data = text_bytes(chunk)
    if ((ends - starts) != width).any():
        return None
    if offsets[-1] - offsets[0] == len(starts) * width:  # no bytes between values: a view
        return data[offsets[0] : offsets[-1]].reshape(-1, width)
    return data[starts[:, None] + np.arange(width)]


def holds(block: np.ndarray, allowed: frozenset[int]) -> bool:
    """Whether every byte of `block` is in `allowed`: one comparison for a range of bytes."""
    low, high = min(allowed), max(allowed)
    if len(allowed) == high - low + 1:
        return bool(((block - np.uint8(low)) <= high - low).all())  # uint8: below low wraps
    table = np.zeros(256, dtype=bool)
    table[list(allowed)] = True
    return bool(table[block].all())
