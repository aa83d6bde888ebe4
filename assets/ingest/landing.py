"""The landing zone: which files belong to a contract, when they arrived, one ingest at a time."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from assets.ingest.scan import content_hash
from assets.ingest.validate import normalised_text
from assets.registry import Contract

DELIVERY_ZONE = ZoneInfo("Asia/Shanghai")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def landing_files(root: Path, contract: Contract) -> list[tuple[Path, str]]:
    """(path, path relative to the landing root) of every file the contract's patterns match.

    Only the folders a pattern can reach are walked (its leading fixed folders), not the whole
    landing zone: the zone holds every unit's files of every day."""
    found = {}
    for base in pattern_bases(root, contract.settings.landing_patterns):
        for path in files_under(base):
            rel = path.relative_to(root).as_posix()
            if is_landing_file(path, rel, contract):
                found[rel] = path
    return sorted(((path, rel) for rel, path in found.items()), key=lambda item: item[1])


def files_under(base: Path) -> Iterator[Path]:
    """The files under `base`, through folders that are symbolic links too (an SFTP area linked
    into landing; `rglob` does not follow them), each real folder once (a link may loop), and
    not in hidden folders (`.incoming`: where uploads wait till they are done)."""
    seen: set[str] = set()
    for folder, folders, names in os.walk(base, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            folders[:] = []
            continue
        seen.add(real)
        folders[:] = [f for f in folders if not f.startswith(".")]
        yield from (Path(folder, name) for name in names)


def named_files(root: Path, contract: Contract, names: set[str]) -> list[tuple[Path, str]]:
    """Like `landing_files`, for the named files only (relative paths): a run told its files
    does not walk the landing zone, which grows with every day kept."""
    named = [(root / rel, rel) for rel in sorted(names)]
    return [(path, rel) for path, rel in named if is_landing_file(path, rel, contract)]


def printable(rel: str) -> str:
    """A landing path as text any log or table can hold: the bytes of a name that is not UTF-8
    (which Python keeps as lone surrogates) shown as `\\xNN`."""
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def is_utf8_name(rel: str) -> bool:
    """Whether a landing path is UTF-8 text (else no table, log or run request can hold it)."""
    return printable(rel) == rel


class NameNotUtf8(Exception):
    """A landed file whose name is not UTF-8: no table or log can hold it; renamed, it loads."""

    def __init__(self, rel: str) -> None:
        super().__init__(f"its name is not UTF-8 ({printable(rel)}): rename the file to load it")


def delivery_hash(contract: Contract, path: Path, rel: str) -> tuple[str, int]:
    """A landed file's identity (hex) and size: its content hash, keyed by the values its path
    supplies to the contract's rows (`{operator}`), if any, as the rows will hold them: folders
    `hellobike` and `ｈｅｌｌｏｂｉｋｅ` both supply `hellobike`, so the same bytes in both are one
    delivery (loaded twice, they would double its rows)."""
    values = contract.settings.path_values(rel) or {}
    return content_hash(path, {name: normalised_text(v) for name, v in values.items()})


def is_landing_file(path: Path, rel: str, contract: Contract) -> bool:
    """Whether `path` (`rel` in landing) is a delivered file of the contract: not hidden, nor
    in a hidden folder (a name starting with `.`: an upload under way, or a tool's own)."""
    hidden = any(part.startswith(".") for part in PurePosixPath(rel).parts)
    return not hidden and path.is_file() and contract.settings.matches(rel)


def pattern_bases(root: Path, patterns: list[str]) -> list[Path]:
    """The existing folders under `root` where the patterns start to vary."""
    bases = []
    for pattern in patterns:
        parts = PurePosixPath(pattern).parts[:-1]  # the last part names files
        fixed = []
        for part in parts:
            if any(ch in part for ch in "*?[{"):
                break
            fixed.append(part)
        base = root.joinpath(*fixed)
        if base.is_dir() and not any(base.is_relative_to(b) for b in bases):
            bases = [b for b in bases if not b.is_relative_to(base)] + [base]
    return bases


@contextmanager
def system_lock(lake, system: str) -> Iterator[None]:
    """Hold `<local dir>/_locks/<system>.lock`: one ingest of a system at a time on this machine
    (across machines, Delta's commit conflicts keep writes whole). Maintenance holds one too,
    under a name no contract id takes."""
    folder = lake.local("_locks")
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{system}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


SETTLE_SECONDS = 60  # a landing file the sensor takes has not changed for this long
FIRST_DELIVERY_DAY = date(2026, 1, 1)  # the first day ingestion is partitioned by


def delivery_date(path: Path) -> date:
    """The day a file arrived, in Shanghai: its modification time (the partition it belongs to),
    within the days there are partitions for. A file keeping its sender's older time (`rsync
    -a`, `sftp -p`, an unzipped archive) is taken on FIRST_DELIVERY_DAY, one dated ahead of
    this machine's clock today: a day without a partition failed the sensor's every tick."""
    arrived = datetime.fromtimestamp(path.stat().st_mtime, DELIVERY_ZONE).date()
    return min(max(arrived, FIRST_DELIVERY_DAY), datetime.now(DELIVERY_ZONE).date())


def modified_time(info: os.stat_result) -> datetime:
    """A file's modification time (from its `stat`) to the microsecond, as the ledger keeps it,
    in UTC."""
    return EPOCH + timedelta(microseconds=info.st_mtime_ns // 1000)


def is_settled(path: Path, now: float) -> bool:
    """Whether a file has not changed for `SETTLE_SECONDS` (`now`: seconds since the epoch): a
    unit still uploading it (SFTP writes in place) would otherwise be read half-written. A time
    as far ahead of the clock is settled too: a writer sets the time it writes at, so such a
    time was set after the upload (`sftp -p`), by a sender whose clock runs ahead."""
    return abs(now - path.stat().st_mtime) >= SETTLE_SECONDS
