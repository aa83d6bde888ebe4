"""What a report viewer may see: the lake's gold, risk and quality tables, masked to the viewer's
clearance and cut to its jurisdiction exactly as a share for that consumer would be (the same
column plans and query as `assets.sharing.publish`), read once per table version.
"""

from __future__ import annotations

import os
import secrets
from functools import cache

import pandas as pd
from deltalake import DeltaTable

from assets.delta_scan import connect_lake
from assets.lake import LakeResource
from assets.registry.reference import Consumer, reference
from assets.sharing.publish import AREA, KEY_ENV, column_plans, describe, masked_query

VIEWER_ENV = "CITYBRAIN_VIEWER"
DEFAULT_VIEWER = "city_ops_centre"


@cache
def token_key() -> str:
    """The share key, so report tokens match the shares'; a random one where none is set."""
    return os.environ.get(KEY_ENV) or secrets.token_hex(32)


def viewers() -> list[Consumer]:
    """Everyone who may open the reports: the consumers."""
    return reference().consumers


def viewer(code: str | None = None) -> Consumer:
    """A viewer by code; by default $CITYBRAIN_VIEWER, else the district centre."""
    return reference().consumer(code or os.environ.get(VIEWER_ENV, DEFAULT_VIEWER))


def version(lake: LakeResource, table: str) -> int | None:
    """The table's Delta version (None when it is not in the lake)."""
    uri = lake.table(*table.split("/"))
    if not DeltaTable.is_deltatable(uri, storage_options=lake.storage_options):
        return None
    return DeltaTable(uri, storage_options=lake.storage_options).version()


def read(lake: LakeResource, who: Consumer, table: str, then: str = "") -> pd.DataFrame:
    """`zone/name` as `who` may see it (empty when the lake has no such table yet). `then` is
    SQL over those rows, named `masked` (a filter, a count, the newest few), run in DuckDB so
    that a page need not hold a whole fact table."""
    return cached_read(lake.root, who.code, table, version(lake, table), then).copy()


@cache
def cached_read(
    root: str, code: str, table: str, at_version: int | None, then: str = ""
) -> pd.DataFrame:
    """One read per (lake, viewer, table, version, query): pages render from memory afterwards."""
    if at_version is None:
        return pd.DataFrame()
    lake, who = LakeResource(root=root), viewer(code)
    zone, name = table.split("/")
    with connect_lake(lake, [(zone, name)]) as con:
        columns, kinds = describe(con, f"{zone}.{name}")
        types = dict(zip(columns, kinds, strict=True))
        if who.jurisdiction != "district" and AREA not in types:
            return pd.DataFrame()  # district-wide rows: only district-wide viewers see them
        plans = column_plans(zone, name, types, who.clearance, reference(), lake)
        query, params = masked_query(f"{zone}.{name}", plans, who, token_key())
        if then:
            query = f"WITH masked AS ({query}) {then}"
        return con.sql(query, params=params).df()
