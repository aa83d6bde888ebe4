"""One streaming pass over a landing file: content hash, size, encoding and binary content."""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

CHUNK = 4 << 20


@dataclass(frozen=True)
class FileScan:
    """What one pass over the bytes tells: identity, size and how to decode it."""

    content_hash: str
    size: int
    encoding: str  # utf-8 (BOM stripped by the readers) or gb18030
    has_bom: bool
    nul_offset: int | None  # first NUL byte: text exports never contain one


def scan_file(path: Path, declared: str = "auto") -> FileScan:
    """Hash the file and find its encoding in the same pass (memory: one chunk).

    UTF-8 is taken when every byte decodes as UTF-8; otherwise GB18030 (a superset of GBK), the
    legacy Chinese encoding. A BOM wins over the contract's declaration, which wins over a guess
    only when the bytes do not contradict it.
    """
    digest = hashlib.sha256()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, size, nul_offset, head = True, 0, None, b""
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if size == 0:
                head = chunk[:3]
            if nul_offset is None and (at := chunk.find(b"\0")) >= 0:
                nul_offset = size + at
            if is_utf8:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
            size += len(chunk)
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    has_bom = head.startswith(codecs.BOM_UTF8)
    if has_bom or is_utf8:
        encoding = "utf-8"
    else:
        encoding = declared if declared in ("gbk", "gb18030") else "gb18030"
    return FileScan(digest.hexdigest(), size, encoding, has_bom, nul_offset)
