"""The lake: one root setting, and every table's location derived from it.

The root is a local folder by default or an object-store URI (`s3://bucket/prefix`) where a city
outgrows one disk. An object store is reached with the standard AWS settings in the environment
(`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, ...), which
deltalake, Arrow, DuckDB's fsspec reader and dbt all read the same way. What must sit on a local
disk (landing files, the city model's DuckDB file, locks, data docs, view sets) goes under
`local_dir`: the root itself for a local lake. Nothing else in the product hard-codes a path.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import fsspec
from pyarrow import fs

DEFAULT_ROOT = "lake"
ROOT_ENV = "CITYBRAIN_LAKE"
LOCAL_DIR_ENV = "CITYBRAIN_LOCAL_DIR"
DEFAULT_LOCAL_DIR = "citybrain_local"


class LakeResource(dg.ConfigurableResource):
    """Where the lake lives. Zones: landing, bronze, quarantine, gold, risk, shares, reference."""

    root: str = DEFAULT_ROOT
    storage_options: dict[str, str] | None = None
    local_dir: str = ""  # for an object-store root; a local root keeps everything in itself

    @property
    def is_local(self) -> bool:
        """Whether the root is a folder on this machine (not an object-store URI)."""
        return "://" not in self.root

    def uri(self, *parts: str) -> str:
        """The location of `parts` under the root, e.g. uri("bronze", "alarms_110")."""
        if self.is_local:
            return str(Path(self.root).resolve().joinpath(*parts))
        return "/".join([self.root.rstrip("/"), *parts])

    def table(self, zone: str, name: str) -> str:
        """A Delta table's location: `<root>/<zone>/<name>`."""
        return self.uri(zone, name)

    def local(self, *parts: str) -> Path:
        """A path on this machine for what must be a local file (see the module's note)."""
        base = self.local_dir or (self.root if self.is_local else DEFAULT_LOCAL_DIR)
        return Path(base).resolve().joinpath(*parts)

    @property
    def landing_root(self) -> Path:
        """Where the units' files arrive (a local folder: units deliver by SFTP or a mount)."""
        return self.local("landing")

    @classmethod
    def from_env(cls) -> LakeResource:
        """The lake named by $CITYBRAIN_LAKE (else ./lake); $CITYBRAIN_LOCAL_DIR for its local
        files when the lake is on an object store."""
        return cls(
            root=os.environ.get(ROOT_ENV, DEFAULT_ROOT),
            local_dir=os.environ.get(LOCAL_DIR_ENV, ""),
        )

    def duckdb_filesystem(self) -> fsspec.AbstractFileSystem | None:
        """The fsspec file system DuckDB reads an object-store lake through (None when local):
        DuckDB's own `httpfs` extension is a run-time download, which this platform avoids."""
        if self.is_local:
            return None
        return fsspec.filesystem(self.root.split("://", 1)[0])


def read_bytes(uri: str) -> bytes | None:
    """A file's bytes from a local or object-store location (None when there is no such file)."""
    filesystem, path = fs.FileSystem.from_uri(uri)
    if filesystem.get_file_info(path).type != fs.FileType.File:
        return None
    with filesystem.open_input_stream(path) as source:
        return source.read()


def write_bytes(uri: str, data: bytes) -> None:
    """Write a file (a model, a card, a manifest) to a local or object-store location."""
    filesystem, path = fs.FileSystem.from_uri(uri)
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with filesystem.open_output_stream(path) as out:
        out.write(data)
