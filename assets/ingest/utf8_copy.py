"""Text files read from a UTF-8 copy rather than as delivered.

- Damaged files: a few bytes their encoding cannot decode (a legacy system that cut a Chinese
  character in half at a field's byte limit, a disk error). Such a file is not quarantined
  whole: the lines holding those bytes become rejects and are left empty in the copy (so every
  line keeps its number); the rest is read as usual.
- UTF-16 files (Excel's "Unicode text"): their line breaks are two bytes, which the scan and
  the readers do not count, so they are read from a UTF-8 copy.
- Files whose lines end in "\\r" alone (old Mac OS exports): Arrow's reader takes "\\r" as a
  line break, the scan and the line numbers count "\\n"; the copy ends its lines in "\\n".
"""

from __future__ import annotations

import codecs
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from assets.ingest.batches import Reject, UnreadableFile

CHUNK = 4 << 20
UNDECODED = re.compile("[\udc80-\udcff]")  # how `surrogateescape` marks a byte it cannot decode


def decode_errors(path: Path, encoding: str, limit: int) -> int:
    """How many bytes of the file `encoding` cannot decode, counted until they pass `limit`
    (enough to compare encodings without decoding the whole of a wrong one)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="surrogateescape")
    errors = 0
    with open(path, "rb") as handle:
        while errors <= limit and (chunk := handle.read(CHUNK)):
            errors += len(UNDECODED.findall(decoder.decode(chunk)))
    return errors + len(UNDECODED.findall(decoder.decode(b"", final=True)))


def best_encoding(path: Path, legacy: str, bom: bool) -> tuple[str, bool]:
    """For a file that is not valid UTF-8: the encoding that decodes it with fewer errors
    (the legacy one when it decodes everything; UTF-8 on a tie), and whether some bytes stay
    undecodable."""
    legacy_errors = 0 if bom else decode_errors(path, legacy, limit=2**62)
    if legacy_errors == 0 and not bom:
        return legacy, False
    utf8_errors = decode_errors(path, "utf-8", limit=legacy_errors)
    return ("utf-8", True) if bom or utf8_errors <= legacy_errors else (legacy, True)


@contextmanager
def utf8_copy(
    path: Path, encoding: str, cr_lines: bool = False
) -> Iterator[tuple[Path, list[Reject]]]:
    """A UTF-8 copy of the file in which each line that does not decode is left empty, and
    those lines as rejects (raw text with the bad bytes escaped); with `cr_lines`, the file's
    lines end in "\\r" alone and the copy's in "\\n". Deleted on leaving."""
    with tempfile.TemporaryDirectory(prefix="citybrain-utf8-") as folder:
        copy = Path(folder) / path.name
        rejects: list[Reject] = []
        if encoding == "utf-16":
            transcode_utf16(path, copy)
            yield copy, rejects
            return
        with open(path, "rb") as source, open(copy, "wb") as out:
            for number, line in enumerate(lines_ending_in_cr(source) if cr_lines else source, 1):
                try:
                    out.write(line.decode(encoding).encode("utf-8"))
                except UnicodeDecodeError as err:
                    raw = line.rstrip(b"\r\n").decode(encoding, errors="backslashreplace")
                    rejects.append(Reject(number, raw, undecodable(line, err, encoding)))
                    out.write(b"\n")
        yield copy, rejects


def lines_ending_in_cr(source: BinaryIO) -> Iterator[bytes]:
    """The lines of a file whose lines end in "\\r" alone, each ending in "\\n". Safe before
    decoding: no UTF-8 or GB18030 character holds the byte 0x0d but "\\r" itself."""
    rest = b""
    while chunk := source.read(CHUNK):
        *lines, rest = (rest + chunk).split(b"\r")
        yield from (line + b"\n" for line in lines)
    if rest:
        yield rest


def undecodable(line: bytes, err: UnicodeDecodeError, encoding: str) -> str:
    """The reason a line is rejected: its first byte that `encoding` cannot decode."""
    return f"not valid {encoding}: byte 0x{line[err.start]:02x} at byte {err.start + 1} of the line"


def transcode_utf16(path: Path, copy: Path) -> None:
    """A UTF-16 file (with its byte order mark) as UTF-8, whole: its line breaks are two bytes,
    so it cannot be cut into lines before it is decoded."""
    try:
        with (
            open(path, encoding="utf-16", newline="") as source,
            open(copy, "w", encoding="utf-8", newline="") as out,
        ):
            shutil.copyfileobj(source, out, CHUNK)
    except UnicodeError as err:
        raise UnreadableFile(f"not valid UTF-16: {err}") from err
