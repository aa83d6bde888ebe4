"""What a landing file is before it is read: its content hash, and how to decode it."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from blake3 import blake3

from assets.ingest.utf8_copy import best_encoding

CHUNK = 4 << 20
PARALLEL_SCAN = 64 << 20  # bytes: a file this large is scanned in two halves at once


@dataclass(frozen=True)
class FileScan:
    """A file's identity and decoding."""

    content_hash: str
    size: int
    encoding: str = "utf-8"  # utf-8 (a BOM is skipped by the readers), gb18030 or utf-16
    has_bom: bool = False
    nul_offset: int | None = None  # first NUL byte: text exports never contain one
    longest_line: int = 0  # bytes: sizes the CSV reader's blocks
    lines: int = 0  # the last one counted with or without its line break (sizes deduplication)
    quoted: bool = False  # the quote character occurs (so values may hold line breaks)
    damaged: bool = False  # some bytes do not decode in `encoding`: their lines are rejected
    blank_lines: np.ndarray = field(  # numbers of empty lines ("" or "\r"): readers skip them
        default_factory=lambda: np.array([], dtype=np.int64), compare=False
    )
    cr_lines: bool = False  # lines end in "\r" alone (old Mac OS exports): read from a copy


def new_digest(key: bytes | None = None) -> blake3:
    """The content hash: BLAKE3 (256-bit, cryptographic), about 5x SHA-256's speed here, and
    the hash is all a re-delivered file costs; on every core for large chunks."""
    if key is None:
        return blake3(max_threads=blake3.AUTO)
    return blake3(key=key, max_threads=blake3.AUTO)


def content_hash(path: Path, path_values: Mapping[str, str] | None = None) -> tuple[str, int]:
    """A delivery's identity (hex) and its size: the hash of its bytes, keyed by the values
    its path supplies if any (`{operator}`): the same bytes from two operators are two
    deliveries, whose rows each carry their own operator."""
    key = None
    if path_values:
        key = blake3(json.dumps(sorted(path_values.items())).encode()).digest()
    digest, size = new_digest(key), 0
    for chunk in read_ahead(path):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def read_ahead(path: Path) -> Iterator[memoryview]:
    """A file's bytes in chunks, the next read from disk while the caller works on this one
    (both release the GIL): the hash of a re-delivered file then costs about what hashing
    alone does. Two buffers, reused: a chunk is valid until the next is asked for."""
    buffers = [bytearray(CHUNK), bytearray(CHUNK)]
    with open(path, "rb", buffering=0) as handle, ThreadPoolExecutor(1) as reader:
        filled = reader.submit(handle.readinto, buffers[0])
        turn = 0
        while size := filled.result():
            filled = reader.submit(handle.readinto, buffers[1 - turn])
            yield memoryview(buffers[turn])[:size]
            turn = 1 - turn


def scan_file(
    path: Path, declared: str = "auto", known_hash: str | None = None, quote: str | None = '"'
) -> FileScan:
    """Hash the file (unless known), find its encoding and the shape of its lines, in one
    streaming pass (over each half of a large file at once, on two cores, when the hash is
    known). `quote`: the quote character of a text format, if any.

    UTF-8 is taken when every byte decodes as UTF-8; otherwise GB18030 (a superset of GBK), the
    legacy Chinese encoding, if it decodes every byte. A file neither decodes wholly is
    `damaged`: it is read in whichever decodes more (UTF-8 if it starts with a UTF-8 BOM). A
    UTF-16 byte order mark makes it UTF-16 (then the line counts here do not hold).
    """
    size = path.stat().st_size
    middle = line_after(path, size // 2, size) if known_hash and size >= PARALLEL_SCAN else None
    if middle is None:
        whole = scan_bytes(path, 0, size, None if known_hash else new_digest(), quote)
    else:  # split after a line break: no line, and no UTF-8 sequence, spans the halves
        with ThreadPoolExecutor(2) as pool:
            halves = [(0, middle, None, quote), (middle, size, None, quote)]
            first, second = pool.map(lambda span: scan_bytes(path, *span), halves)
        whole = first.then(second)
    lines, nul_offset = whole.lines, whole.nul_offset
    has_bom = whole.head.startswith(codecs.BOM_UTF8)
    encoding, damaged = "utf-8", False
    if whole.head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding, nul_offset = "utf-16", None  # half its bytes are NUL: that is not binary
    elif not whole.is_utf8:
        legacy = declared if declared in ("gbk", "gb18030") else "gb18030"
        encoding, damaged = best_encoding(path, legacy, has_bom)
    return FileScan(
        known_hash or whole.digest or "",
        lines.size,
        encoding,
        has_bom,
        nul_offset,
        lines.longest_line(),
        lines.count(),
        whole.quoted,
        damaged,
        lines.blank_lines(),
        lines.cr_only() and encoding != "utf-16",
    )


def line_after(path: Path, offset: int, size: int) -> int | None:
    """Where the first line starting after `offset` of a file of `size` bytes starts; None if
    none does within a chunk."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        at = handle.read(CHUNK).find(b"\n")
    return offset + at + 1 if at >= 0 and offset + at + 1 < size else None


@dataclass
class ByteScan:
    """What a pass over bytes `start` to `stop` of a file found."""

    lines: LineShape
    head: bytes = b""  # the first bytes (byte order marks)
    nul_offset: int | None = None  # in the file
    quoted: bool = False
    is_utf8: bool = True
    digest: str | None = None

    def then(self, later: ByteScan) -> ByteScan:
        """This span followed by `later`, which starts where this one stops, after a line
        break."""
        return ByteScan(
            self.lines.then(later.lines),
            self.head,
            self.nul_offset if self.nul_offset is not None else later.nul_offset,
            self.quoted or later.quoted,
            self.is_utf8 and later.is_utf8,
        )


def scan_bytes(
    path: Path, start: int, stop: int, digest: blake3 | None, quote: str | None
) -> ByteScan:
    """One pass over bytes `start` to `stop` of a file (which start a line), hashing them into
    `digest` if given."""
    utf8 = codecs.getincrementaldecoder("utf-8")()
    found = ByteScan(LineShape(start))
    quote_byte = (quote or "").encode()
    with open(path, "rb") as handle:
        handle.seek(start)
        while found.lines.size < stop and (
            chunk := handle.read(min(CHUNK, stop - found.lines.size))
        ):
            if digest:
                digest.update(chunk)
            if found.lines.size == 0:
                found.head = chunk[:3]
            if found.nul_offset is None and (at := chunk.find(b"\0")) >= 0:
                found.nul_offset = found.lines.size + at
            found.quoted = found.quoted or bool(quote_byte and quote_byte in chunk)
            # ASCII with no sequence left open decodes: skip building the text (a third of
            # the pass for the usual export).
            if found.is_utf8 and not (chunk.isascii() and not utf8.getstate()[0]):
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    found.is_utf8 = False
            found.lines.add(chunk)  # last: the offsets above are of this chunk's start
    if found.is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            found.is_utf8 = False
    found.digest = digest.hexdigest() if digest else None
    return found


class LineShape:
    """A file's newlines, longest line and empty lines, learnt chunk by chunk."""

    def __init__(self, start: int = 0) -> None:
        """`start`: the offset in the file of the first chunk (0, or just after a line break)."""
        self.size = self.line_start = start
        self.newlines = self.longest = 0
        self.last_byte = 10 if start else 0
        self.returns = 0  # "\r"s in the chunks before the first "\n"
        self.blanks: list[np.ndarray] = []

    def then(self, later: LineShape) -> LineShape:
        """These lines followed by `later`'s, which start where these stop (after a line break,
        so this part's "\r"s before its first "\n" are the file's)."""
        joined = LineShape()
        joined.size, joined.line_start, joined.last_byte = (
            later.size,
            later.line_start,
            later.last_byte,
        )
        joined.newlines = self.newlines + later.newlines
        joined.longest = max(self.longest, later.longest)
        joined.returns = self.returns
        joined.blanks = self.blanks + [self.newlines + b for b in later.blanks]
        return joined

    def add(self, chunk: bytes) -> None:
        """The next chunk of the file."""
        if self.size == 0 and chunk.startswith(codecs.BOM_UTF8):
            self.line_start = len(codecs.BOM_UTF8)  # readers skip it: a line of just a BOM is empty
        data = np.frombuffer(chunk, dtype=np.uint8)
        ends = np.flatnonzero(data == 10)
        if not self.newlines and not len(ends):
            self.returns += chunk.count(b"\r")
        if len(ends):
            starts = np.concatenate([[self.line_start - self.size], ends[:-1] + 1])
            blank = empty(data, ends, starts, self.last_byte)
            self.blanks.append(self.newlines + 1 + np.flatnonzero(blank))
            self.longest = max(self.longest, int((ends - starts).max()))
            self.line_start = self.size + int(ends[-1]) + 1
        self.newlines += len(ends)
        self.last_byte = int(data[-1])
        self.size += len(chunk)

    def longest_line(self) -> int:
        """Bytes of the longest line, the last one included."""
        return max(self.longest, self.size - self.line_start)

    def count(self) -> int:
        """Lines: one per line break, and one for a last line without one."""
        if self.cr_only():
            return self.returns + (self.last_byte != 13)
        return self.newlines + (self.size > self.line_start)

    def cr_only(self) -> bool:
        """Whether lines end in "\\r" alone: no "\\n" anywhere, but a "\\r"."""
        return self.newlines == 0 and self.returns > 0

    def blank_lines(self) -> np.ndarray:
        """The numbers (from 1) of the lines that hold nothing, or only a CRLF's "\\r"."""
        return np.concatenate(self.blanks) if self.blanks else np.array([], dtype=np.int64)


def empty(data: np.ndarray, ends: np.ndarray, starts: np.ndarray, before: int) -> np.ndarray:
    """Which lines of a chunk hold nothing, or only the "\\r" of a CRLF ending. `ends` are the
    positions of their newlines in the chunk, `starts` of their first bytes (negative where a
    line began in an earlier chunk), `before` the previous chunk's last byte."""
    lengths = ends - starts
    last = np.where(ends > 0, data[np.maximum(ends - 1, 0)], before)
    return (lengths == 0) | ((lengths == 1) & (last == 13))
