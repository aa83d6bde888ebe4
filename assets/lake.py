"""The lake: one root setting, and every table's location derived from it.

The root is a local folder by default or an object-store URI (`s3://bucket/prefix`) where a city
outgrows one disk. Nothing else in the product hard-codes a path.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from pyarrow import fs

DEFAULT_ROOT = "lake"
ROOT_ENV = "CITYBRAIN_LAKE"


class LakeResource(dg.ConfigurableResource):
    """Where the lake lives. Zones: landing, bronze, quarantine, gold, risk, shares, reference."""

    root: str = DEFAULT_ROOT
    storage_options: dict[str, str] | None = None

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

    @property
    def landing_root(self) -> Path:
        """Where the units' files arrive (a local folder: units deliver by SFTP or a mount)."""
        return Path(self.uri("landing"))

    @classmethod
    def from_env(cls) -> LakeResource:
        """The lake named by $CITYBRAIN_LAKE, else ./lake."""
        return cls(root=os.environ.get(ROOT_ENV, DEFAULT_ROOT))


def write_bytes(uri: str, data: bytes) -> None:
    """Write a file (a model, a card, a manifest) to a local or object-store location."""
    filesystem, path = fs.FileSystem.from_uri(uri)
    filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
    with filesystem.open_output_stream(path) as out:
        out.write(data)
