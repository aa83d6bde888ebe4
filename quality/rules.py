"""Rules: what a table must satisfy, as plain data, turned into expectations only when they run.

A `TableSpec` describes a table (the assets build it from its contract); `table_rules` gives the
contract's own rules (required, allowed values, ranges, key uniqueness) plus the city's domain
rules from `quality.domain`. Critical rules block downstream assets when they fail; the rest warn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ColumnSpec:
    """A column as the checks need it."""

    name: str
    kind: str  # VARCHAR, BIGINT, DOUBLE, BOOLEAN, TIMESTAMP, DATE
    tier: str = "L2"  # L1..L4: how much of a failing value a steward may see
    required: bool = False
    valid_values: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class TableSpec:
    """A table as the checks need it."""

    name: str
    columns: tuple[ColumnSpec, ...]
    event_time: str
    primary_key: tuple[str, ...] = ()
    key_is_unique: bool = False  # upserted tables hold one row per key
    freshness_hours: float | None = None

    @property
    def names(self) -> set[str]:
        """Column names."""
        return {c.name for c in self.columns}

    def column(self, name: str) -> ColumnSpec:
        """A column by name."""
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class Rule:
    """One expectation on one table.

    `kind` names the Great Expectations expectation (see `quality.engine.EXPECTATIONS`),
    `params` its arguments; `columns` are the columns whose values a failure sample shows, and
    `needs` the reference views an SQL rule reads besides the batch.
    """

    name: str
    kind: str
    params: dict[str, Any]
    description: str
    critical: bool = False
    columns: tuple[str, ...] = ()
    needs: tuple[str, ...] = field(default=())


def contract_rules(table: TableSpec) -> list[Rule]:
    """Rules the contract states: required values, allowed values, ranges, unique keys."""
    rules = []
    for col in table.columns:
        if col.required:
            rules.append(
                Rule(
                    f"{col.name}_not_null",
                    "not_null",
                    {"column": col.name},
                    f"{col.name} is always present (required by the contract).",
                    critical=True,
                    columns=(col.name,),
                )
            )
        if col.valid_values is not None:
            rules.append(
                Rule(
                    f"{col.name}_in_set",
                    "in_set",
                    {"column": col.name, "value_set": list(col.valid_values)},
                    f"{col.name} is one of {len(col.valid_values)} allowed values.",
                    critical=True,
                    columns=(col.name,),
                )
            )
        if col.minimum is not None or col.maximum is not None:
            rules.append(
                Rule(
                    f"{col.name}_in_range",
                    "between",
                    {"column": col.name, "min_value": col.minimum, "max_value": col.maximum},
                    f"{col.name} lies within [{col.minimum}, {col.maximum}].",
                    critical=True,
                    columns=(col.name,),
                )
            )
    if table.key_is_unique and table.primary_key:
        rules.append(
            Rule(
                "primary_key_unique",
                "unique",
                {"column_list": list(table.primary_key)},
                f"One row per {', '.join(table.primary_key)} (records are upserted on the key).",
                critical=True,
                columns=table.primary_key,
            )
        )
    return rules


def table_rules(table: TableSpec) -> list[Rule]:
    """Every rule of a table: the contract's, then the city's domain rules."""
    from quality.domain import domain_rules

    return contract_rules(table) + domain_rules(table)
