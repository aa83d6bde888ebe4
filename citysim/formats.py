"""Serialise a batch the way its system exports: CSV (legacy encodings), JSON lines, Parquet,
GBFS 2.3 / 3.0 feeds and Open311 GeoReport v2 JSON."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from citysim.contracts import SystemSpec

# Each legacy system's own timestamp format; dirt mixes in the others.
CSV_TS_FORMAT = {
    "fire_calls_119": "%Y/%m/%d %H:%M:%S",
    "ambulance_120": "%Y%m%d%H%M%S",
    "grid_cases": "%Y-%m-%dT%H:%M:%S",
    "flats": "%Y/%m/%d %H:%M",
    "group_rental_inspections": "%Y年%m月%d日 %H:%M",
}
DEFAULT_TS_FORMAT = "%Y-%m-%d %H:%M:%S"
OTHER_TS_FORMATS = [
    "%Y/%m/%d %H:%M:%S",
    "%Y%m%d%H%M%S",
    "%Y-%m-%dT%H:%M:%S+08:00",
    "%Y年%m月%d日 %H:%M:%S",
    "%d/%m/%Y %H:%M",
]
ARROW_TYPES = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "TIMESTAMP": pa.timestamp("ms", tz="Asia/Shanghai"),
    "DATE": pa.date32(),
}


def format_times(values: pd.Series, fmt: str) -> pd.Series:
    """Format timestamps fast: each distinct instant once (exports repeat them a lot)."""
    codes, uniques = pd.factorize(values)
    text = (
        pd.DatetimeIndex(uniques).strftime(fmt).to_numpy(dtype=object)
        if len(uniques)
        else np.array([], object)
    )
    out = np.where(codes >= 0, text[np.maximum(codes, 0)] if len(text) else "", "")
    return pd.Series(out, index=values.index, dtype=object)


def as_text(frame: pd.DataFrame, spec: SystemSpec, ts_format: str) -> pd.DataFrame:
    """Every cell as the text a CSV export writes ('' for null)."""
    out = {}
    for name, ptype in spec.columns.items():
        col = frame[name] if name in frame else pd.Series([None] * len(frame), index=frame.index)
        if ptype == "TIMESTAMP":
            out[name] = format_times(pd.to_datetime(col), ts_format)
        elif ptype == "BOOLEAN":
            out[name] = col.map({True: "true", False: "false"}).fillna("").astype(object)
        elif ptype == "BIGINT":
            out[name] = col.map(lambda v: "" if v is None or v != v else str(int(v))).astype(object)
        else:
            out[name] = col.map(
                lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v)
            ).astype(object)
    return pd.DataFrame(out, index=frame.index)


def csv_lines(text: pd.DataFrame, delimiter: str, header: bool) -> list[str]:
    """CSV lines (quoted where needed), without line ends."""
    buf = io.StringIO()
    text.to_csv(buf, index=False, header=header, sep=delimiter, lineterminator="\n")
    return buf.getvalue().split("\n")[:-1]


def json_value(v: object) -> object:
    """A Python value JSON can carry: ISO 8601 with offset for times, null for missing."""
    if v is None or (isinstance(v, float) and v != v) or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    return v


def json_records(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    """Rows as dicts of JSON-ready values, in the contract's column order."""
    cols = [c for c in columns if c in frame]
    return [
        {c: json_value(v) for c, v in zip(cols, row, strict=True)}
        for row in frame[cols].itertuples(index=False)
    ]


def jsonl_lines(frame: pd.DataFrame, spec: SystemSpec) -> list[str]:
    """JSON lines, UTF-8, keys in contract order."""
    return [json.dumps(r, ensure_ascii=False) for r in json_records(frame, list(spec.columns))]


def parquet_table(frame: pd.DataFrame, spec: SystemSpec) -> pa.Table:
    """A typed Arrow table in the contract's columns (no pandas metadata, for stable bytes)."""
    arrays = []
    for name, ptype in spec.columns.items():
        col = frame[name] if name in frame else pd.Series([None] * len(frame))
        if ptype == "TIMESTAMP":
            arrays.append(
                pa.array(
                    pd.to_datetime(col).dt.tz_convert("Asia/Shanghai"), type=ARROW_TYPES[ptype]
                )
            )
        else:
            arrays.append(pa.Array.from_pandas(col, type=ARROW_TYPES[ptype]))
    return pa.Table.from_arrays(arrays, names=list(spec.columns))


def write_parquet_chunk(writers: dict, path, frame: pd.DataFrame, spec: SystemSpec) -> None:
    """Append a chunk to a Parquet file, opening its writer on first use."""
    table = parquet_table(frame, spec)
    if path not in writers:
        writers[path] = pq.ParquetWriter(path, table.schema, compression="zstd")
    writers[path].write_table(table)


GBFS_LISTS = {
    "bike_station_information": ("stations", "stations"),
    "bike_station_status": ("stations", "stations"),
    "bike_vehicle_status": ("bikes", "vehicles"),
}


def gbfs_document(system: str, frame: pd.DataFrame, header: dict) -> dict:
    """A GBFS feed document in the operator's version (2.3: POSIX times; 3.0: RFC 3339)."""
    version, at = header["version"], header["last_updated"]
    v3 = version == "3.0"
    stamp = (lambda t: t.isoformat()) if v3 else (lambda t: int(t.timestamp()))
    items = []
    for row in frame.to_dict("records"):
        item = {k: json_value(v) for k, v in row.items()}
        if "last_reported" in row:
            item["last_reported"] = stamp(row["last_reported"])
        if system == "bike_station_information" and v3:
            item["name"] = [{"text": row["name"], "language": "zh"}]
        if system == "bike_station_status" and v3:
            item["num_vehicles_available"] = item.pop("num_bikes_available")
            item["vehicle_types_available"] = [
                {"vehicle_type_id": "bike", "count": item["num_vehicles_available"]}
            ]
            item["is_installed"] = True
        if system == "bike_vehicle_status":
            if v3:
                item["last_reported"] = stamp(at)
            else:
                item["bike_id"] = item.pop("vehicle_id")
        items.append(item)
    key = GBFS_LISTS[system][1 if v3 else 0]
    return {"last_updated": stamp(at), "ttl": 60, "version": version, "data": {key: items}}


def open311_document(frame: pd.DataFrame, spec: SystemSpec) -> list[dict]:
    """Open311 GeoReport v2 service requests (a JSON array), with CityBrain's extensions."""
    return json_records(frame, list(spec.columns))
