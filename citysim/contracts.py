"""What the simulator needs from the contracts: each system's format, encoding and columns.

It reads the YAML as plain data; the product's contract loader is not imported (the simulator
plays the units, who know their own exports, and must share no code with the product).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

import yaml

from citysim.config import CONTRACTS_DIR


@dataclass(frozen=True)
class SystemSpec:
    """A system's export as its contract describes it."""

    id: str
    file_format: str
    encoding: str
    delimiter: str
    columns: dict[str, str]  # name -> physicalType
    update_semantics: str
    landing_patterns: tuple[str, ...]

    def delivers(self, rel: str) -> bool:
        """Whether a landing path matches one of this system's patterns, segment by segment."""
        parts = PurePosixPath(rel).parts
        for pattern in self.landing_patterns:
            wanted = PurePosixPath(pattern.replace("{operator}", "*")).parts
            if len(wanted) == len(parts) and all(map(fnmatchcase, parts, wanted)):
                return True
        return False


def system_specs() -> dict[str, SystemSpec]:
    """Every system under contracts/systems, by id."""
    specs = {}
    for path in sorted((CONTRACTS_DIR / "systems").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        custom = {p["property"]: p["value"] for p in doc["customProperties"]}
        specs[doc["id"]] = SystemSpec(
            id=doc["id"],
            file_format=custom["fileFormat"],
            encoding=custom.get("encoding", "utf-8"),
            delimiter=custom.get("delimiter", ","),
            columns={p["name"]: p["physicalType"] for p in doc["schema"][0]["properties"]},
            update_semantics=custom["updateSemantics"],
            landing_patterns=tuple(
                [patterns] if isinstance(patterns := custom["landingPattern"], str) else patterns
            ),
        )
    return specs
