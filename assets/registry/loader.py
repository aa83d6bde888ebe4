"""Load and validate the contracts under `contracts/systems/`: the one contract loader.

Every failure is a `ContractError` naming the file and the field, e.g.
`contracts/systems/alarms_110.yaml: schema[0].properties[2] (alarm_type).classification: ...`.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from itertools import combinations, product
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError

from assets.registry.errors import ContractError
from assets.registry.models import (
    LOGICAL_OF_PHYSICAL,
    PARTITION,
    PLACEHOLDER,
    Contract,
    ContractDocument,
    SystemSettings,
)

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
SLA_UNIT_HOURS = {"m": 1 / 60, "min": 1 / 60, "h": 1.0, "hours": 1.0, "d": 24.0, "days": 24.0}


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; a syntax error names the file, line and column."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ContractError(path, where, f"invalid YAML: {err.problem}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise ContractError(path, "file", f"cannot read: {err}") from err


def field_path(loc: tuple[Any, ...], raw: Any) -> str:
    """Render a pydantic error location, naming columns: `schema[0].properties[2] (plate).x`."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int):
            parts[-1] += f"[{key}]"
            node = node[key] if isinstance(node, list) and key < len(node) else None
            if isinstance(node, dict) and "name" in node:
                parts[-1] += f" ({node['name']})"
        else:
            parts.append("schema" if key == "schema_" else str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "document"


def custom_properties(path: Path, items: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn ODCS `customProperties` [{property, value}] into a dict, refusing repeats."""
    result: dict[str, Any] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or "property" not in item or "value" not in item:
            raise ContractError(path, f"customProperties[{i}]", "needs `property` and `value`")
        if item["property"] in result:
            raise ContractError(path, f"customProperties[{i}]", f"{item['property']} repeated")
        result[item["property"]] = item["value"]
    landing = result.get("landingPattern")
    if isinstance(landing, str):
        result["landingPattern"] = [landing]
    return result


def load_contract(path: Path, known_units: set[str] | None = None) -> Contract:
    """Parse and validate one contract file."""
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ContractError(path, "document", "must be a mapping with apiVersion, kind, id, ...")
    try:
        doc = ContractDocument.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        raise ContractError(path, field_path(first["loc"], raw), first["msg"]) from err
    props = custom_properties(path, raw["customProperties"])
    try:
        settings = SystemSettings.model_validate(props)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ContractError(path, f"customProperties.{field}", first["msg"]) from err
    return build_contract(path, doc, settings, known_units)


def build_contract(
    path: Path, doc: ContractDocument, settings: SystemSettings, known_units: set[str] | None
) -> Contract:
    """Apply CityBrain's cross-field rules and build the frozen `Contract`."""
    if doc.id != path.stem:
        raise ContractError(path, "id", f"{doc.id!r} must match the file name {path.stem!r}")
    if known_units is not None and doc.domain not in known_units:
        raise ContractError(path, "domain", f"unknown unit {doc.domain!r} (reference/units.yaml)")
    table = doc.schema_[0]
    columns = {c.name: c for c in table.properties}
    for i, col in enumerate(table.properties):
        where = f"schema[0].properties[{i}] ({col.name})"
        if LOGICAL_OF_PHYSICAL[col.physicalType] != col.logicalType:
            raise ContractError(
                path, f"{where}.logicalType", f"{col.logicalType} does not fit {col.physicalType}"
            )
        if col.logicalTypeOptions.pattern is not None:
            try:
                re.compile(col.logicalTypeOptions.pattern)
            except re.error as err:
                raise ContractError(path, f"{where}.logicalTypeOptions.pattern", str(err)) from err
    if len(columns) != len(table.properties):
        raise ContractError(path, "schema[0].properties", "column names must be unique")
    if PARTITION in columns:
        raise ContractError(
            path, f"({PARTITION}).name", f"{PARTITION} is bronze's partition column: rename it"
        )
    key = sorted(
        (c for c in table.properties if c.primaryKey),
        key=lambda c: c.primaryKeyPosition or 0,
    )
    if not key:
        raise ContractError(path, "schema[0].properties", "no column has primaryKey: true")
    for col in key:
        if not col.required:
            raise ContractError(path, f"{col.name}.required", "a primary-key column is required")
    check_settings(path, settings, columns)
    stewards = tuple(m.username for m in doc.team if m.role == "steward")
    if not stewards:
        raise ContractError(path, "team", "needs at least one member with role: steward")
    return Contract(
        id=doc.id,
        name=doc.name,
        version=doc.version,
        status=doc.status,
        unit=doc.domain,
        description=doc.description.purpose,
        stewards=stewards,
        owners=tuple(m.username for m in doc.team if m.role == "owner"),
        columns=tuple(table.properties),
        primary_key=tuple(c.name for c in key),
        freshness_hours=freshness_hours(path, doc),
        settings=settings,
        source_path=str(path),
    )


def check_settings(path: Path, settings: SystemSettings, columns: dict[str, Any]) -> None:
    """The customProperties must point at real columns of the right type."""
    event_col = columns.get(settings.event_time_column)
    if event_col is None or event_col.physicalType not in ("TIMESTAMP", "DATE"):
        raise ContractError(
            path,
            "customProperties.eventTimeColumn",
            f"{settings.event_time_column!r} is not a TIMESTAMP or DATE column",
        )
    if settings.update_semantics == "upsert":
        version = columns.get(settings.version_column or "")
        # Required: a state without a version compares with no other, and would never be
        # superseded by a later one.
        if version is None or version.physicalType != "TIMESTAMP" or not version.required:
            raise ContractError(
                path,
                "customProperties.versionColumn",
                "updateSemantics upsert needs versionColumn naming a required TIMESTAMP column",
            )
    for pattern in settings.landing_patterns:
        if problem := pattern_problem(pattern, columns):
            raise ContractError(path, "customProperties.landingPattern", problem)


def pattern_problem(pattern: str, columns: dict) -> str | None:
    """What is wrong with a landing pattern, or None: folders are separated by `/`, and a
    placeholder is a whole folder name naming a column once."""
    if "\\" in pattern:
        return f"{pattern!r}: separate folders with '/', not '\\'"
    named: set[str] = set()
    for segment in PurePosixPath(pattern).parts:
        token = PLACEHOLDER.fullmatch(segment)
        if token is None and ("{" in segment or "}" in segment):
            return (
                f"{segment!r}: a placeholder is a whole folder name, a column's name in "
                "lower case, such as {operator}"
            )
        if token is None:
            continue
        if token.group(1) not in columns:
            return f"{segment} is not a column"
        if token.group(1) in named:
            return f"{segment} appears twice"
        named.add(token.group(1))
    return None


def freshness_hours(path: Path, doc: ContractDocument) -> float:
    """The freshness SLA in hours."""
    for i, sla in enumerate(doc.slaProperties):
        if sla.property == "freshness":
            unit = (sla.unit or "h").lower()
            if unit not in SLA_UNIT_HOURS or not isinstance(sla.value, int | float):
                raise ContractError(
                    path, f"slaProperties[{i}]", "freshness needs a number and a unit in h, d, m"
                )
            return float(sla.value) * SLA_UNIT_HOURS[unit]
    raise ContractError(path, "slaProperties", "needs a `freshness` property")


def load_contracts(contracts_dir: Path = CONTRACTS_DIR) -> list[Contract]:
    """Load every contract under `<contracts_dir>/systems/`, sorted by id."""
    units_file = contracts_dir / "reference" / "units.yaml"
    known_units = (
        {u["code"] for u in read_yaml(units_file)["units"]} if units_file.exists() else None
    )
    files = sorted((contracts_dir / "systems").glob("*.yaml"))
    if not files:
        raise ContractError(contracts_dir / "systems", "directory", "holds no *.yaml contract")
    contracts = [load_contract(path, known_units) for path in files]
    check_patterns_apart(files, contracts)
    return contracts


def check_patterns_apart(files: list[Path], contracts: list[Contract]) -> None:
    """No two systems' landing patterns may match one file: both would load it. The later
    contract (by file name) is the one refused."""
    for (_, earlier), (path, later) in combinations(zip(files, contracts, strict=True), 2):
        pairs = product(later.settings.landing_patterns, earlier.settings.landing_patterns)
        for mine, theirs in pairs:
            if patterns_overlap(mine, theirs):
                raise ContractError(
                    path,
                    "customProperties.landingPattern",
                    f"{mine!r} can match the files of {earlier.id} ({theirs!r}): both would "
                    f"load them",
                )


def patterns_overlap(first: str, second: str) -> bool:
    """Whether two landing patterns can match one path: segment by segment, two texts are
    equal, a text matches the other's glob, or two globs agree in their fixed start and end
    (which two globs no text satisfies is not worked out: they are taken to overlap)."""
    a, b = PurePosixPath(first).parts, PurePosixPath(second).parts
    return len(a) == len(b) and all(map(segments_overlap, a, b))


def segments_overlap(a: str, b: str) -> bool:
    """Whether two pattern segments can match one folder or file name."""
    a, b = (PLACEHOLDER.sub("*", s) for s in (a, b))
    wild = [any(ch in s for ch in "*?[") for s in (a, b)]
    if not any(wild):
        return a == b
    if not all(wild):
        return fnmatchcase(b, a) if wild[0] else fnmatchcase(a, b)
    start = [re.split(r"[*?\[]", s)[0] for s in (a, b)]
    end = [re.split(r"[*?\]]", s)[-1] for s in (a, b)]
    return (start[0].startswith(start[1]) or start[1].startswith(start[0])) and (
        end[0].endswith(end[1]) or end[1].endswith(end[0])
    )
