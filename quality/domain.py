"""The city's own rules, found by what a table's columns are, never by which system it is.

Phones, plates and ID numbers are recognised by column name; coordinates by a lat/lon pair;
lifecycle times by their names (a later stage is never before an earlier one); meters by
`meter_id` + `reading` + `reset_flag`; codes by the reference table that defines them. Each rule
is SQL that returns the offending rows (`{batch}` is the table's rows in scope), run by Great
Expectations' `UnexpectedRowsExpectation`, or a native expectation where one fits. They warn:
a unit's data may break them and still be worth loading; the contract's own rules block.
"""

from __future__ import annotations

from itertools import pairwise

from quality.rules import Rule, TableSpec

PHONE = r"1[3-9]\d{9}"
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Province, issuing letter, then 5 characters, or 6 on new-energy plates (D/F first for small
# cars, last for large ones). I and O are never used.
PLATE = f"[{PROVINCES}][A-HJ-NP-Z]([A-HJ-NP-Z0-9]{{5}}|[DF][A-HJ-NP-Z0-9][0-9]{{4}}|[0-9]{{5}}[DF])"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
FUTURE_SKEW = "INTERVAL 5 MINUTE"  # clocks of the units' systems drift a little

# Lifecycle times, earliest stage first: of those a table has, each is not before the previous.
LIFECYCLE = (
    "requested_datetime",
    "received_at",
    "called_at",
    "occurred_at",
    "ordered_at",
    "reported_at",
    "registered_at",
    "valid_from",
    "dispatched_at",
    "arrived_at",
    "extinguished_at",
    "recovered_at",
    "delivered_at",
    "valid_to",
)
# Code columns and where their codes are defined: (zone/table, key column).
REFERENCES = {
    "street_code": ("reference/streets", "street_code"),
    "committee_code": ("reference/committees", "committee_code"),
    "grid_cell": ("reference/grid_cells", "cell_code"),
    "agency_responsible": ("reference/departments", "code"),
    "camera_id": ("bronze/anpr_cameras", "camera_id"),
    "device_id": ("bronze/iot_devices", "device_id"),
    "flat_id": ("bronze/flats", "flat_id"),
}
GRID = "reference/grid_cells"


def view_name(table: str) -> str:
    """The DuckDB view of a `zone/name` table during a check run."""
    return table.replace("/", "_")


def sql_rule(name: str, sql: str, description: str, columns: tuple[str, ...], needs=()) -> Rule:
    """A warning rule whose SQL returns the offending rows of `{batch}`."""
    # GE formats the query: every brace but the placeholder's is doubled (regex quantifiers).
    query = sql.replace("{", "{{").replace("}", "}}").replace("{{batch}}", "{batch}")
    return Rule(
        name,
        "unexpected_rows",
        {"unexpected_rows_query": query, "description": description},
        description,
        columns=columns,
        needs=tuple(needs),
    )


def domain_rules(table: TableSpec) -> list[Rule]:
    """Every domain rule that applies to the table's columns."""
    return [
        *format_rules(table),
        *time_rules(table),
        *area_rules(table),
        *meter_rules(table),
        *reference_rules(table),
    ]


def format_rules(table: TableSpec) -> list[Rule]:
    """Phones, plates and ID numbers in their national formats."""
    rules = []
    for col in table.columns:
        c = f'"{col.name}"'
        if col.name.endswith("phone"):
            rules.append(
                sql_rule(
                    f"{col.name}_is_mobile_number",
                    f"SELECT {c} FROM {{batch}} WHERE NOT regexp_full_match({c}, '{PHONE}')",
                    f"{col.name} is an 11-digit mainland mobile number (1[3-9]…).",
                    (col.name,),
                )
            )
        elif col.name == "plate":
            rules.append(
                sql_rule(
                    "plate_format",
                    f"SELECT {c} FROM {{batch}} WHERE NOT regexp_full_match({c}, '{PLATE}')",
                    "plate is a Chinese plate: province, letter, 5 characters (6 if new-energy).",
                    (col.name,),
                )
            )
        elif col.name.endswith("id_number"):
            rules.append(
                sql_rule(
                    f"{col.name}_check_digit",
                    f"SELECT {c} FROM {{batch}} WHERE {c} IS NOT NULL AND NOT coalesce("
                    f"regexp_full_match({c}, '\\d{{17}}[0-9X]') AND {id_check_sql(c)}, false)",
                    f"{col.name} has 18 characters and a valid GB 11643 check digit.",
                    (col.name,),
                )
            )
    return rules


def id_check_sql(column: str) -> str:
    """SQL: the 18th character is the check digit of the first 17 (GB 11643, mod 11)."""
    total = " + ".join(
        f"try_cast(substr({column}, {i + 1}, 1) AS INTEGER) * {w}" for i, w in enumerate(ID_WEIGHTS)
    )
    return f"substr('{ID_CHECK}', CAST(({total}) % 11 AS INTEGER) + 1, 1) = substr({column}, 18, 1)"


def time_rules(table: TableSpec) -> list[Rule]:
    """Event time not in the future; each lifecycle time not before the stage before it."""
    event = f'"{table.event_time}"'
    rules = [
        sql_rule(
            "event_time_not_in_future",
            f"SELECT {event} FROM {{batch}} WHERE {event} > now() + {FUTURE_SKEW}",
            f"{table.event_time} is not in the future.",
            (table.event_time,),
        )
    ]
    stages = [name for name in LIFECYCLE if name in table.names]
    for earlier, later in pairwise(stages):
        rules.append(
            Rule(
                f"{later}_not_before_{earlier}",
                "pair_order",
                {
                    "column_A": later,
                    "column_B": earlier,
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                f"{later} is not before {earlier}.",
                columns=(later, earlier),
            )
        )
    return rules


def area_rules(table: TableSpec) -> list[Rule]:
    """Coordinates inside Pudong: the point falls in one of the district's grid cells."""
    lon = next((n for n in ("lon", "long") if n in table.names), None)
    if lon is None or "lat" not in table.names:
        return []
    grid = view_name(GRID)
    sql = (
        f"WITH g AS (SELECT min(lon_min) AS lon0, min(lat_min) AS lat0, "
        f"max(lon_max - lon_min) AS dlon, max(lat_max - lat_min) AS dlat FROM {grid}), "
        f"cells AS (SELECT CAST(round((lon_min - lon0) / dlon) AS BIGINT) AS ix, "
        f"CAST(round((lat_min - lat0) / dlat) AS BIGINT) AS iy FROM {grid}, g), "
        f'points AS (SELECT "{lon}" AS lon, lat, '
        f'CAST(floor(("{lon}" - lon0) / dlon) AS BIGINT) AS ix, '
        f"CAST(floor((lat - lat0) / dlat) AS BIGINT) AS iy "
        f'FROM {{batch}}, g WHERE "{lon}" IS NOT NULL AND lat IS NOT NULL) '
        f"SELECT p.lon, p.lat FROM points AS p ANTI JOIN cells AS c ON p.ix = c.ix AND p.iy = c.iy"
    )
    return [
        sql_rule(
            "coordinates_inside_pudong",
            sql,
            "lat/lon fall inside Pudong (one of its grid cells).",
            ("lat", lon),
            needs=(GRID,),
        )
    ]


def meter_rules(table: TableSpec) -> list[Rule]:
    """Meter readings never fall, per meter in time order, except at a flagged reset."""
    if not {"meter_id", "reading", "reset_flag"} <= table.names:
        return []
    event = f'"{table.event_time}"'
    sql = (
        f"SELECT meter_id, {event}, reading, previous FROM (SELECT meter_id, {event}, reading, "
        f"reset_flag, lag(reading) OVER (PARTITION BY meter_id ORDER BY {event}) AS previous "
        f"FROM {{batch}}) WHERE reading < previous AND NOT coalesce(reset_flag, false)"
    )
    return [
        sql_rule(
            "meter_reading_monotone",
            sql,
            "Each meter's reading never falls, except at a reading flagged as a reset.",
            ("meter_id", "reading"),
        )
    ]


def reference_rules(table: TableSpec) -> list[Rule]:
    """Codes resolve in the table that defines them (not checked in that table itself)."""
    rules = []
    for col in table.columns:
        target = REFERENCES.get(col.name)
        if target is None or target[0].endswith(f"/{table.name}"):
            continue
        ref, key = target
        c = f'"{col.name}"'
        sql = (
            f"SELECT {c} FROM {{batch}} WHERE {c} IS NOT NULL "
            f'AND {c} NOT IN (SELECT "{key}" FROM {view_name(ref)} WHERE "{key}" IS NOT NULL)'
        )
        rules.append(
            sql_rule(
                f"{col.name}_resolves",
                sql,
                f"Every {col.name} is a {key} of {ref}.",
                (col.name,),
                needs=(ref,),
            )
        )
    return rules
