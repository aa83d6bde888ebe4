"""Pydantic models of an ODCS v3 data contract, as CityBrain uses it.

ODCS leaves file format, encoding and landing layout to `customProperties`; `SystemSettings`
gives those a checked shape. Unknown keys are refused inside a column so that a typo such as
`requierd` fails loudly instead of silently making a column optional.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from enum import StrEnum
from fnmatch import fnmatchcase
from pathlib import PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")  # a landing pattern's `{column}`
PARTITION = "event_date"  # bronze's partition column: no contract column or field takes it


class Tier(StrEnum):
    """Access tiers, lowest first (DESIGN.md section 4)."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"

    @property
    def rank(self) -> int:
        """1 for L1 up to 4 for L4."""
        return int(self.value[1])


PhysicalType = Literal["VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP", "DATE"]
LogicalType = Literal["string", "integer", "number", "boolean", "timestamp", "date"]
LOGICAL_OF_PHYSICAL: dict[str, str] = {
    "VARCHAR": "string",
    "BIGINT": "integer",
    "DOUBLE": "number",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
}


class TypeOptions(BaseModel):
    """ODCS `logicalTypeOptions` used for validation."""

    model_config = ConfigDict(extra="forbid")
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    minLength: int | None = None
    maxLength: int | None = None
    format: str | None = None


class QualityRule(BaseModel):
    """An ODCS quality rule; `invalidValues` with `validValues` is how an enumeration is said."""

    model_config = ConfigDict(extra="allow")
    name: str | None = None
    type: Literal["library", "sql", "text", "custom"] = "library"
    metric: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None


class Column(BaseModel):
    """One property of the contract's table."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    logicalType: LogicalType
    physicalType: PhysicalType
    required: bool
    classification: Tier
    description: str = Field(min_length=3)
    primaryKey: bool = False
    primaryKeyPosition: int | None = None
    unique: bool | None = None
    logicalTypeOptions: TypeOptions = Field(default_factory=TypeOptions)
    quality: list[QualityRule] = Field(default_factory=list)
    businessName: str | None = None
    examples: list[Any] | None = None
    tags: list[str] | None = None
    customProperties: list[dict[str, Any]] | None = None

    @property
    def tier(self) -> Tier:
        """The column's access tier."""
        return self.classification

    @property
    def source_fields(self) -> list[str]:
        """Names the column may carry in delivered files: its own, then `sourceFields` aliases."""
        aliases = [
            p["value"] for p in self.customProperties or [] if p.get("property") == "sourceFields"
        ]
        flat = [a for value in aliases for a in (value if isinstance(value, list) else [value])]
        return [self.name, *flat]

    @property
    def valid_values(self) -> list[Any] | None:
        """The enumeration, if a quality rule declares one."""
        for rule in self.quality:
            if rule.metric == "invalidValues" and "validValues" in rule.arguments:
                return list(rule.arguments["validValues"])
        return None


class SchemaObject(BaseModel):
    """ODCS schema object: the one table a system delivers."""

    model_config = ConfigDict(extra="allow")
    name: str
    physicalName: str | None = None
    description: str | None = None
    properties: list[Column] = Field(min_length=1)


class TeamMember(BaseModel):
    """ODCS v3.0 team entry (still accepted by v3.1)."""

    model_config = ConfigDict(extra="allow")
    username: str
    name: str | None = None
    role: str


class SlaProperty(BaseModel):
    """ODCS SLA property; CityBrain reads `freshness`."""

    model_config = ConfigDict(extra="allow")
    property: str
    value: float | int | str
    unit: str | None = None
    element: str | None = None


class Description(BaseModel):
    """ODCS description block."""

    model_config = ConfigDict(extra="allow")
    purpose: str = Field(min_length=3)
    usage: str | None = None
    limitations: str | None = None


FileFormat = Literal["csv", "jsonl", "parquet", "gbfs", "open311_json", "open311_xml"]
Encoding = Literal["auto", "utf-8", "utf-8-sig", "gbk", "gb18030"]


class SystemSettings(BaseModel):
    """What ODCS leaves to `customProperties`: how the system delivers its files."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    file_format: FileFormat = Field(alias="fileFormat")
    encoding: Encoding = "auto"
    landing_patterns: list[str] = Field(alias="landingPattern", min_length=1)
    event_time_column: str = Field(alias="eventTimeColumn")
    update_semantics: Literal["append", "upsert"] = Field(alias="updateSemantics")
    duplicate_rows: Literal["drop", "keep", "quarantine"] = Field("drop", alias="duplicateRows")
    version_column: str | None = Field(None, alias="versionColumn")
    delivery_cadence: str | None = Field(None, alias="deliveryCadence")
    timezone: str = "Asia/Shanghai"
    # One ASCII character each: Arrow's CSV reader takes no other (a full-width ； would fail
    # every file of the system, so the contract is refused when it loads).
    delimiter: str = Field(",", pattern=r"^[\x01-\x7f]$")
    quote_char: str = Field('"', alias="quoteChar", pattern=r"^[\x01-\x7f]$")

    def path_values(self, rel_path: str) -> dict[str, str] | None:
        """The values a path under landing/ supplies through the patterns it matches, or None
        when it belongs to another system: patterns glob per path segment, and a placeholder
        (`{operator}`) is one whole segment, e.g. `bike_operators/{operator}/*/...` gives
        {"operator": "hellobike"}. A path matching several patterns takes the values of all
        (whichever comes first in the list); two that disagree raise `PathValuesDiffer`."""
        matched = list(self.pattern_values(rel_path))
        if not matched:
            return None
        values: dict[str, str] = {}
        for pattern, found in matched:
            for name, value in found.items():
                if values.setdefault(name, value) != value:
                    first = next(p for p, v in matched if v.get(name) == values[name])
                    raise PathValuesDiffer(rel_path, name, (first, values[name]), (pattern, value))
        return values

    def pattern_values(self, rel_path: str) -> Iterator[tuple[str, dict[str, str]]]:
        """Each landing pattern the path matches, with the values its placeholders take."""
        parts = PurePosixPath(rel_path).parts
        for pattern in self.landing_patterns:
            wanted = PurePosixPath(pattern).parts
            if len(wanted) != len(parts):
                continue
            tokens = [PLACEHOLDER.fullmatch(segment) for segment in wanted]
            globs = [
                "*" if token else segment for token, segment in zip(tokens, wanted, strict=True)
            ]
            if all(map(fnmatchcase, parts, globs)):
                yield pattern, {t.group(1): p for t, p in zip(tokens, parts, strict=True) if t}

    def matches(self, rel_path: str) -> bool:
        """Whether a path under landing/ belongs to this system."""
        return next(self.pattern_values(rel_path), None) is not None


class PathValuesDiffer(ValueError):
    """A landed path that two of its system's landing patterns read differently: which value
    its rows should carry is the contract's to say (fix the patterns; the file then loads)."""

    def __init__(self, rel: str, name: str, *readings: tuple[str, str]) -> None:
        said = " but ".join(f"{pattern!r} gives {value!r}" for pattern, value in readings)
        super().__init__(f"landing patterns disagree on {name} for {rel}: {said}")


class ContractDocument(BaseModel):
    """The raw ODCS v3 document, before CityBrain's cross-field rules."""

    model_config = ConfigDict(extra="allow")
    apiVersion: Literal["v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0"]
    kind: Literal["DataContract"]
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    version: str
    status: Literal["proposed", "draft", "active", "deprecated", "retired"]
    domain: str
    dataProduct: str
    description: Description
    team: list[TeamMember] = Field(min_length=1)
    schema_: list[SchemaObject] = Field(alias="schema", min_length=1, max_length=1)
    slaProperties: list[SlaProperty] = Field(min_length=1)
    customProperties: list[dict[str, Any]]


class Contract(BaseModel):
    """A validated contract: the one object every part of the platform reads."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    id: str
    name: str
    version: str
    status: str
    unit: str
    description: str
    stewards: tuple[str, ...]
    owners: tuple[str, ...]
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    freshness_hours: float
    settings: SystemSettings
    source_path: str

    @property
    def column_names(self) -> list[str]:
        """Column names in contract order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called `name` (KeyError if none)."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.id} has no column {name!r}")

    @property
    def event_time_column(self) -> str:
        """Column whose date partitions bronze."""
        return self.settings.event_time_column

    @property
    def max_tier(self) -> Tier:
        """Highest tier among the columns."""
        return max((c.tier for c in self.columns), key=lambda t: t.rank)
