"""Reference data and consumers: streets, committees, grid cells, departments, units, the event
taxonomy, tiers and consumers. Validated on load; errors name the file and the field."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assets.registry.errors import ContractError
from assets.registry.loader import CONTRACTS_DIR, field_path, read_yaml
from assets.registry.models import Tier


class Strict(BaseModel):
    """Reference rows refuse unknown keys, so a typo fails loudly."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Department(Strict):
    """A body that handles events, at its level."""

    code: str
    name_zh: str
    name_en: str
    level: str = Field(pattern="^(district|street|village|enterprise)$")


class Unit(Strict):
    """A unit whose systems feed the centre (a contract's domain)."""

    code: str
    name_zh: str
    kind: str = Field(pattern="^(government|enterprise)$")
    department: str


class EventType(Strict):
    """One event type: dimension, lead and co-operating departments, level and SLA."""

    code: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$")
    name_zh: str
    dimension: str = Field(pattern="^(safe|clean|orderly)$")
    lead: str
    cooperating: list[str]
    level: str = Field(pattern="^(district|street|village)$")
    respond_minutes: int = Field(gt=0)
    close_hours: int = Field(gt=0)
    sources: list[str]
    night_respond_minutes: int | None = None


class Consumer(Strict):
    """A department or sub-centre that consumes shared tables."""

    code: str
    name_zh: str
    kind: str = Field(pattern="^(district_centre|department|sub_centre)$")
    clearance: Tier
    jurisdiction: str = Field(pattern=r"^(district|ST\d{2})$")


class TierRule(Strict):
    """A tier (tiers.yaml): what happens to its columns above a consumer's clearance."""

    code: Tier
    name_zh: str
    name_en: str
    description: str
    above_clearance: str = Field(pattern="^(keep|drop|tokenise)$")


class ShareSchema(Strict):
    """A schema of a share: tables of the lake's gold or risk zone, by `<zone>/<name>`."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    tables: list[str] = Field(min_length=1)

    @field_validator("tables")
    @classmethod
    def lake_tables(cls, tables: list[str]) -> list[str]:
        """Each table is `gold/<mart>` or `risk/<model>`, named once."""
        for table in tables:
            if not re.fullmatch(r"(gold|risk)/[a-z][a-z0-9_]*", table):
                raise ValueError(f"{table!r} is not gold/<name> or risk/<name>")
        if len({t.split("/")[1] for t in tables}) != len(tables):
            raise ValueError("two tables of one schema share a name")
        return tables


class Grant(Strict):
    """A share granted to one consumer: its schemas and their tables."""

    share: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    consumer: str
    schemas: list[ShareSchema] = Field(min_length=1)


def parse_rows(path: Path, key: str, model: type[BaseModel]) -> list[Any]:
    """Validate the list under `key` of a YAML file into `model` rows."""
    raw = read_yaml(path)
    if not isinstance(raw, dict) or not isinstance(raw.get(key), list):
        raise ContractError(path, key, "must be a list")
    rows = []
    for i, item in enumerate(raw[key]):
        try:
            rows.append(model.model_validate(item))
        except ValidationError as err:
            first = err.errors()[0]
            where = field_path((key, i, *first["loc"]), raw)
            raise ContractError(path, where, first["msg"]) from err
    return rows


def read_csv(path: Path) -> list[dict[str, str]]:
    """Rows of a UTF-8 CSV file."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class Reference:
    """All reference data under one contracts directory, loaded lazily and validated."""

    root: Path = CONTRACTS_DIR

    @cached_property
    def departments(self) -> list[Department]:
        """Departments (reference/departments.yaml)."""
        return parse_rows(self.root / "reference/departments.yaml", "departments", Department)

    @cached_property
    def units(self) -> list[Unit]:
        """Units (reference/units.yaml); each names a known department."""
        units = parse_rows(self.root / "reference/units.yaml", "units", Unit)
        self.must_know(
            "reference/units.yaml",
            "department",
            [u.department for u in units],
            self.department_codes,
        )
        return units

    @cached_property
    def event_types(self) -> list[EventType]:
        """The event taxonomy; leads and co-operators must be departments."""
        path = "reference/event_taxonomy.yaml"
        types = parse_rows(self.root / path, "event_types", EventType)
        named = [t.lead for t in types] + [c for t in types for c in t.cooperating]
        self.must_know(path, "lead/cooperating", named, self.department_codes)
        return types

    @cached_property
    def consumers(self) -> list[Consumer]:
        """Consumers (consumers.yaml); each jurisdiction is the district or a known street."""
        consumers = parse_rows(self.root / "consumers.yaml", "consumers", Consumer)
        streets = {s["street_code"] for s in self.streets} | {"district"}
        self.must_know(
            "consumers.yaml", "jurisdiction", [c.jurisdiction for c in consumers], streets
        )
        return consumers

    @cached_property
    def tiers(self) -> dict[Tier, TierRule]:
        """The four tiers (tiers.yaml), by code."""
        rules = parse_rows(self.root / "tiers.yaml", "tiers", TierRule)
        if sorted(r.code for r in rules) != sorted(Tier):
            raise ContractError(self.root / "tiers.yaml", "tiers", "must define L1, L2, L3, L4")
        return {r.code: r for r in rules}

    @cached_property
    def grants(self) -> list[Grant]:
        """Grants (consumers.yaml `grants:`); each names a known consumer and a unique share."""
        grants = parse_rows(self.root / "consumers.yaml", "grants", Grant)
        known = {c.code for c in self.consumers}
        self.must_know("consumers.yaml", "grants.consumer", [g.consumer for g in grants], known)
        shares = [g.share for g in grants]
        if len(set(shares)) != len(shares):
            twice = sorted({s for s in shares if shares.count(s) > 1})[0]
            raise ContractError(self.root / "consumers.yaml", "grants.share", f"{twice!r} twice")
        return grants

    def consumer(self, code: str) -> Consumer:
        """One consumer by code."""
        for c in self.consumers:
            if c.code == code:
                return c
        raise KeyError(f"no consumer {code!r} in consumers.yaml")

    def typed_csv(self, name: str) -> pa.Table:
        """A reference CSV as an Arrow table with numbers typed (for the lake's copy)."""
        return pacsv.read_csv(self.root / "reference" / f"{name}.csv")

    @cached_property
    def streets(self) -> list[dict[str, str]]:
        """The 36 streets/towns (reference/streets.csv)."""
        return read_csv(self.root / "reference/streets.csv")

    @cached_property
    def committees(self) -> list[dict[str, str]]:
        """Residential/village committees (reference/committees.csv)."""
        return read_csv(self.root / "reference/committees.csv")

    @cached_property
    def grid_cells(self) -> list[dict[str, str]]:
        """Grid cells (reference/grid_cells.csv)."""
        return read_csv(self.root / "reference/grid_cells.csv")

    @cached_property
    def district(self) -> dict[str, Any]:
        """The district and its approximate outline (reference/district.yaml)."""
        return read_yaml(self.root / "reference/district.yaml")

    @property
    def department_codes(self) -> set[str]:
        """Codes of all departments."""
        return {d.code for d in self.departments}

    def must_know(self, file: str, field: str, values: list[str], known: set[str]) -> None:
        """Every value must be among `known`, else an error naming the first stranger."""
        unknown = sorted(set(values) - known)
        if unknown:
            raise ContractError(self.root / file, field, f"unknown code {unknown[0]!r}")


@cache
def reference() -> Reference:
    """The reference data under contracts/, parsed once per process (for readers that ask often,
    such as the reports)."""
    return Reference()
