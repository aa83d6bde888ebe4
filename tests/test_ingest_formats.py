"""Every delivery format ingests through its contract: CSV (BOM), JSON lines, Parquet, and the
real GBFS (2.3, 3.0) and Open311 (JSON, XML) samples, with no code specific to any of them."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.ingest_support import column, contract, deliver, edited_contract, ingest, reasons, table

FIXTURES = Path(__file__).parent / "fixtures"


def anywhere(doc: dict) -> None:
    """A steward's edit for a city elsewhere: no Pudong coordinate ranges."""
    for col in doc["schema"][0]["properties"]:
        if col["name"] in ("lat", "lon", "long"):
            col.get("logicalTypeOptions", {}).pop("minimum", None)
            col.get("logicalTypeOptions", {}).pop("maximum", None)


INFO = "station_information.json"
GBFS_CASES = [
    ("bike_vehicle_status", "mobilitydata-v2.3/free_bike_status.json", "free_bike_status.json"),
    ("bike_vehicle_status", "mobilitydata-v3.0/vehicle_status.json", "vehicle_status.json"),
    ("bike_station_status", "mobilitydata-v2.3/station_status.json", "station_status.json"),
    ("bike_station_status", "mobilitydata-v3.0/station_status.json", "station_status.json"),
    ("bike_station_status", "oslo-bysykkel/station_status.json", "station_status.json"),
    ("bike_station_information", "mobilitydata-v3.0/station_information.json", INFO),
]


@pytest.mark.parametrize(("system", "fixture", "name"), GBFS_CASES)
def test_real_gbfs_feeds_ingest(lake, tmp_path, system, fixture, name) -> None:
    source = (FIXTURES / "gbfs" / fixture).read_bytes()
    records = next(iter(json.loads(source)["data"].values()))
    deliver(lake, f"bike_operators/hellobike/20261116T0800/{name}", source)
    [result] = ingest(lake, edited_contract(tmp_path, system, anywhere))
    assert (result.status, result.rows_read) == ("loaded", len(records))
    assert result.rows_loaded == len(records), reasons(lake, system)
    bronze = table(lake, "bronze", system)
    assert set(bronze.column("operator").to_pylist()) == {"hellobike"}  # from the path
    key = "vehicle_id" if system == "bike_vehicle_status" else "station_id"
    source_key = "bike_id" if "free_bike" in name else key
    assert sorted(bronze.column(key).to_pylist()) == sorted(r[source_key] for r in records)
    if system == "bike_station_status":
        field = (
            "num_bikes_available"
            if "num_bikes_available" in records[0]
            else "num_vehicles_available"
        )
        assert sorted(bronze.column("num_bikes_available").to_pylist()) == sorted(
            r[field] for r in records
        )


def test_gbfs_times_in_both_versions_become_utc(lake, tmp_path) -> None:
    deliver(
        lake,
        "bike_operators/a/20261116T0800/free_bike_status.json",
        (FIXTURES / "gbfs/mobilitydata-v2.3/free_bike_status.json").read_bytes(),
    )
    deliver(
        lake,
        "bike_operators/b/20261116T0800/vehicle_status.json",
        (FIXTURES / "gbfs/mobilitydata-v3.0/vehicle_status.json").read_bytes(),
    )
    c = edited_contract(
        tmp_path,
        "bike_vehicle_status",
        lambda d: (anywhere(d), column(d, "operator").pop("quality")),
    )
    ingest(lake, c)
    times = set(table(lake, "bronze", "bike_vehicle_status").column("last_updated").to_pylist())
    assert times == {
        datetime.fromtimestamp(1606857968, UTC),
        datetime(2019, 7, 4, 13, 33, 3, 969000, UTC),
    }


def open311_contract(tmp_path: Path, fmt: str):
    def edit(doc: dict) -> None:
        anywhere(doc)
        for prop in doc["customProperties"]:
            if prop["property"] == "fileFormat":
                prop["value"] = fmt
        for name in ("status", "service_code"):
            column(doc, name).pop("quality", None)
        column(doc, "service_request_id").get("logicalTypeOptions", {}).pop("pattern", None)

    return edited_contract(tmp_path, "hotline_12345", edit)


def test_real_open311_json_ingests(lake, tmp_path) -> None:
    source = (FIXTURES / "open311/service_requests.json").read_bytes()
    deliver(lake, "hotline/hotline_12345/requests_20261116_0800.json", source)
    [result] = ingest(lake, open311_contract(tmp_path, "open311_json"))
    assert (result.rows_read, result.rows_loaded) == (2, 2)
    bronze = table(lake, "bronze", "hotline_12345")
    assert sorted(bronze.column("service_request_id").to_pylist()) == ["14-01100627", "14-01100669"]
    assert (
        datetime(2014, 7, 12, 15, 58, 43, tzinfo=UTC)
        in bronze.column("requested_datetime").to_pylist()
    )
    history = table(lake, "bronze", "hotline_12345_history")
    assert history.num_rows == 2
    assert "status_notes" in bronze.column_names  # a field outside the contract: kept, warned
    assert any("status_notes" in w for w in result.warnings)


@pytest.mark.parametrize("namespace", ["", ' xmlns="http://open311.org/v2"'])
def test_real_open311_xml_ingests_and_names_what_is_missing(lake, tmp_path, namespace) -> None:
    text = (FIXTURES / "open311/requests_many.xml").read_text()
    text = text.replace("<service_requests>", f"<service_requests{namespace}>")
    requests = text.count("<request>")
    deliver(lake, "hotline/hotline_12345/requests_20261116_0800.json", text)
    [result] = ingest(lake, open311_contract(tmp_path, "open311_xml"))
    assert result.rows_read == requests
    missing = text.count("<updated_datetime/>")
    assert (result.rows_loaded, result.rows_quarantined) == (requests - missing, missing)
    assert set(reasons(lake, "hotline_12345")) <= {"missing required updated_datetime"}


def test_csv_with_a_bom_and_parquet_ingest(lake) -> None:
    header = "meter_id,flat_id,read_at,reading,reset_flag,quality_code\n"
    deliver(
        lake,
        "gas_company/meter_readings/gas_readings_20261116.csv",
        "\ufeff" + header + "GM00000001,F00000001,2026-11-16 06:00:00,1.5,false,measured\n",
    )
    [gas] = ingest(lake, contract("meter_readings_gas"))
    assert gas.rows_loaded == 1
    readings = pa.table(
        {
            "meter_id": ["PM00000001", "PM00000001"],
            "flat_id": ["F00000001"] * 2,
            "read_at": pa.array(
                [datetime(2026, 11, 16, h, tzinfo=UTC) for h in (1, 2)],
                pa.timestamp("ms", tz="Asia/Shanghai"),
            ),
            "reading": [10.0, 10.4],
            "reset_flag": [False, False],
            "quality_code": ["measured"] * 2,
        }
    )
    path = deliver(lake, "power_company/meter_readings/power_readings_20261116.parquet", b"")
    power = contract("meter_readings_power")
    pq.write_table(
        readings.select([c for c in readings.column_names if c in power.column_names]), path
    )
    [result] = ingest(lake, power)
    assert result.rows_loaded == 2, reasons(lake, "meter_readings_power")


def test_only_the_folders_a_pattern_reaches_are_walked(tmp_path) -> None:
    from assets.ingest.landing import pattern_bases

    for rel in ("hotline/hotline_12345/requests_1.json", "bike_operators/a/1/x.json", "x/y.csv"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    patterns = ["hotline/hotline_12345/requests_*.json", "hotline/*/other_*.json"]
    assert pattern_bases(tmp_path, patterns) == [tmp_path / "hotline"]
    assert pattern_bases(tmp_path, ["bike_operators/{operator}/*/x.json"]) == [
        tmp_path / "bike_operators"
    ]
    assert pattern_bases(tmp_path, ["missing/*.csv"]) == []


def test_a_document_record_that_is_not_an_object_is_quarantined_by_its_number(
    lake, tmp_path
) -> None:
    doc = station_status()
    stations = doc["data"]["stations"]
    stations.insert(1, 42)  # record 2
    stations.append("站点")  # the last record
    result = ingest_station_status(lake, tmp_path, json.dumps(doc))
    assert (result.status, result.rows_read) == ("loaded", len(stations))
    assert (result.rows_loaded, result.rows_quarantined) == (len(stations) - 2, 2)
    assert not any("_value" in warning for warning in result.warnings)  # no made-up field
    quarantined = table(lake, "quarantine", "bike_station_status").to_pylist()
    assert sorted((q["source_line"], q["raw"], q["reason"]) for q in quarantined) == [
        (2, "42", "a JSON int, not an object"),
        (len(stations), '"站点"', "a JSON str, not an object"),
    ]


def station_status() -> dict:
    """The real GBFS 2.3 station_status sample."""
    return json.loads((FIXTURES / "gbfs/mobilitydata-v2.3/station_status.json").read_bytes())


def ingest_station_status(lake, tmp_path: Path, text: str):
    """Deliver a station_status document and ingest it; its one file's result."""
    deliver(lake, "bike_operators/hellobike/20261116T0800/station_status.json", text)
    [result] = ingest(lake, edited_contract(tmp_path, "bike_station_status", anywhere))
    return result


def test_the_same_bytes_from_two_operators_are_two_deliveries(lake, tmp_path) -> None:
    """Found by fuzzing: the second operator's file was a `duplicate` of the first by its
    content hash, and its stations never reached bronze under its name."""
    text = json.dumps(station_status())
    for folder in ["hellobike/20261116T0800", "meituan/20261116T0800", "meituan/20261116T0900"]:
        deliver(lake, f"bike_operators/{folder}/station_status.json", text)
    results = ingest(lake, edited_contract(tmp_path, "bike_station_status", anywhere))
    assert [r.status for r in results] == ["loaded", "loaded", "duplicate"]
    assert results[2].reason.endswith("meituan/20261116T0800/station_status.json")
    stations = results[0].rows_loaded
    operators = table(lake, "bronze", "bike_station_status").column("operator").to_pylist()
    assert stations > 0 and sorted(operators) == ["hellobike"] * stations + ["meituan"] * stations


def test_folders_linked_into_landing_are_walked_and_hidden_ones_left(lake, tmp_path) -> None:
    """Found in review: a folder linked into landing (an operator's SFTP area) was never walked,
    and files in hidden folders (`.incoming`, uploads under way) were taken."""
    sftp = tmp_path / "sftp" / "hellobike"
    (sftp / "20261116T0800").mkdir(parents=True)
    (sftp / "20261116T0800" / "station_status.json").write_text(json.dumps(station_status()))
    (sftp / "20261116T0800" / "loop").symlink_to(sftp)  # a link that loops is walked once
    operators = lake.landing_root / "bike_operators"
    operators.mkdir(parents=True)
    (operators / "hellobike").symlink_to(sftp)
    text = json.dumps(station_status())
    deliver(lake, "bike_operators/meituan/.incoming/station_status.json", text)
    deliver(lake, "bike_operators/.trash/20261116T0800/station_status.json", text)
    results = ingest(lake, edited_contract(tmp_path, "bike_station_status", anywhere))
    assert [(r.path, r.status) for r in results] == [
        ("bike_operators/hellobike/20261116T0800/station_status.json", "loaded")
    ]


def test_folders_naming_one_operator_in_two_widths_are_one_delivery(lake, tmp_path) -> None:
    """Found by fuzzing: folders `hellobike` and `ｈｅｌｌｏｂｉｋｅ` (or with a zero-width space)
    were two deliveries of the same bytes, whose rows both say `hellobike`: loaded twice."""
    text = json.dumps(station_status())
    for folder in ["hellobike", "ｈｅｌｌｏｂｉｋｅ", "hello\u200bbike ", "meituan"]:
        deliver(lake, f"bike_operators/{folder}/20261116T0800/station_status.json", text)
    results = ingest(lake, edited_contract(tmp_path, "bike_station_status", anywhere))
    by_folder = {r.path.split("/")[1]: r for r in results}
    assert by_folder["hellobike"].status == "loaded"
    for twin in ["ｈｅｌｌｏｂｉｋｅ", "hello\u200bbike "]:
        assert by_folder[twin].status == "duplicate"
        assert by_folder[twin].reason.startswith("same content as bike_operators/")
    assert by_folder["meituan"].status == "loaded"
    stations = by_folder["hellobike"].rows_loaded
    operators = table(lake, "bronze", "bike_station_status").column("operator").to_pylist()
    assert stations > 0 and sorted(operators) == ["hellobike"] * stations + ["meituan"] * stations


def test_any_placeholder_of_a_landing_pattern_supplies_its_column(lake, tmp_path) -> None:
    """Found by fuzzing: a placeholder other than {operator} matched no file at all."""

    def by_street(doc: dict) -> None:
        pattern = next(p for p in doc["customProperties"] if p["property"] == "landingPattern")
        pattern["value"] = "hotline/{street_code}/requests_*.json"

    request = {
        "service_request_id": "H202611160001",
        "status": "received",
        "service_code": "hotline.move_car",
        "requested_datetime": "2026-11-16T08:00:00+08:00",
        "updated_datetime": "2026-11-16T08:00:00+08:00",
    }
    deliver(lake, "hotline/ST03/requests_1.json", json.dumps([request]))
    [result] = ingest(lake, edited_contract(tmp_path, "hotline_12345", by_street))
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    assert table(lake, "bronze", "hotline_12345").column("street_code").to_pylist() == ["ST03"]


def with_landing_patterns(*patterns: str):
    """A steward's edit: the contract's landing patterns, in this order."""

    def edit(doc: dict) -> None:
        anywhere(doc)
        for prop in doc["customProperties"]:
            if prop["property"] == "landingPattern":
                prop["value"] = list(patterns)

    return edit


def test_a_file_takes_the_values_of_every_landing_pattern_it_matches(lake, tmp_path) -> None:
    """Found by fuzzing: the first pattern that matched decided alone, so a fixed pattern listed
    before an `{operator}` one left the operator's files without their operator."""
    deliver(lake, "bike_operators/hellobike/20261116T0800/station_status.json",
            json.dumps(station_status()))  # fmt: skip
    edit = with_landing_patterns(
        "bike_operators/*/*/station_status.json",
        "bike_operators/{operator}/*/station_status.json",
    )
    [result] = ingest(lake, edited_contract(tmp_path, "bike_station_status", edit))
    assert (result.status, result.rows_quarantined) == ("loaded", 0) and result.rows_loaded > 0
    operators = table(lake, "bronze", "bike_station_status").column("operator").to_pylist()
    assert set(operators) == {"hellobike"}


def gbfs_text(doc: dict, records: list[str]) -> str:
    """A GBFS document around records given as JSON text (which `json.dumps` cannot repeat)."""
    envelope = json.dumps({**doc, "data": {"stations": "RECORDS"}})
    return envelope.replace('"RECORDS"', "[" + ", ".join(records) + "]")


def test_a_document_record_naming_a_key_twice_is_quarantined_not_guessed(lake, tmp_path) -> None:
    doc = station_status()
    records = [json.dumps(s) for s in doc["data"]["stations"]]
    records.append(records[0].replace("TST:Station:1", "TST:Station:3"))  # a clean one
    deep = "[" * 600 + "]" * 600  # deeper than Python's recursion allows a walk to go
    records.append(records[0].replace("TST:Station:1", "TST:Station:4")[:-1] + f', "x": {deep}}}')
    records.append('{"station_id": "TST:Station:5", "": 1, "": 2}')
    records[0] = re.sub(r'"num_bikes_available": (\d+)', r'"num_bikes_available": \1, '
                        r'"num_bikes_available": 9', records[0])  # fmt: skip
    records[1] = re.sub(r'"count": (\d+)', r'"count": \1, "count": 9', records[1], count=1)
    result = ingest_station_status(lake, tmp_path, gbfs_text(doc, records))
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 2, 3)
    quarantined = sorted(
        table(lake, "quarantine", "bike_station_status").to_pylist(), key=lambda q: q["source_line"]
    )
    assert [(q["source_line"], q["reason"]) for q in quarantined] == [
        (1, "key 'num_bikes_available' appears twice in one object"),
        (2, "key 'count' appears twice in one object"),  # inside a list inside the record
        (5, "key '' appears twice in one object"),
    ]
    assert re.search(  # both values, as delivered
        r'"num_bikes_available": \d+, "num_bikes_available": 9', quarantined[0]["raw"]
    )


@pytest.mark.parametrize(
    ("before", "after", "key"),
    [
        ('"ttl": ', '"ttl": 60, "ttl": ', "ttl"),
        ('"version": ', '"version": {"a": 1, "a": 2}, "v": ', "a"),  # inside a shared field
        ('"version": ', '"version": [{"b": {"a": 1, "a": 2}}], "v": ', "a"),  # deeper inside
    ],
)
def test_a_document_envelope_naming_a_key_twice_quarantines_the_file(
    lake, tmp_path, before, after, key
) -> None:
    doc = station_status()
    text = gbfs_text(doc, [json.dumps(s) for s in doc["data"]["stations"]])
    result = ingest_station_status(lake, tmp_path, text.replace(before, after, 1))
    assert result.status == "quarantined"
    assert result.reason == f"key {key!r} appears twice in the document's envelope"


def test_an_open311_xml_request_naming_a_field_twice_is_quarantined(lake, tmp_path) -> None:
    text = (FIXTURES / "open311/requests_many.xml").read_text()
    text = text.replace("<status>open</status>", "<status>open</status><status>closed</status>", 1)
    deliver(lake, "hotline/hotline_12345/requests_20261116_0800.json", text)
    [result] = ingest(lake, open311_contract(tmp_path, "open311_xml"))
    twice = [
        q
        for q in table(lake, "quarantine", "hotline_12345").to_pylist()
        if q["reason"] == "key 'status' appears twice in one object"
    ]
    assert [q["source_line"] for q in twice] == [1]
    assert "<status>open</status><status>closed</status>" in twice[0]["raw"]
    assert result.rows_read == text.count("<request>")


def test_an_xml_field_holding_elements_keeps_all_its_text(lake, tmp_path) -> None:
    """Found by fuzzing: only the text before a field's first child element was kept."""
    text = (FIXTURES / "open311/requests_many.xml").read_text()
    text = text.replace("<description/>", "<description>夜间<b>噪声</b>扰民</description>", 1)
    updated = "<updated_datetime>2018-07-30T00:01:00-04:00</updated_datetime>"
    text = text.replace("<updated_datetime/>", updated, 1)  # the first request loads
    text = text.replace(
        "<address>Warden Ave / Freeman St, Scarborough</address>",
        "<address><street>Warden Ave</street> / Freeman St</address>",
    )
    lat = "<lat>43.695823056</lat>"  # the second request's: elements alone are no number
    text = text.replace(lat, "<lat><deg>43</deg><min>41</min></lat>", 1)
    text = text.replace("<updated_datetime/>", updated, 1)  # the second request is checked
    deliver(lake, "hotline/hotline_12345/requests_20261116_0800.json", text)
    ingest(lake, open311_contract(tmp_path, "open311_xml"))
    rows = table(lake, "bronze", "hotline_12345").to_pylist()
    [first] = [r for r in rows if r["service_request_id"] == "101005420892"]
    assert (first["description"], first["address"]) == ("夜间噪声扰民", "Warden Ave / Freeman St")
    assert 'lat: "<deg>43</deg><min>41</min>" is not a valid double' in reasons(
        lake, "hotline_12345"
    )


def test_a_refused_xml_request_nested_too_deep_to_write_back_keeps_its_fields(
    lake, tmp_path
) -> None:
    text = (FIXTURES / "open311/requests_many.xml").read_text()
    deep = "<status>open</status><status>closed</status>" + "<a>" * 1100 + "</a>" * 1100
    text = text.replace("<status>open</status>", deep, 1)  # serialising it crashed the run
    deliver(lake, "hotline/hotline_12345/requests_20261116_0800.json", text)
    [result] = ingest(lake, open311_contract(tmp_path, "open311_xml"))
    assert result.rows_read == result.rows_loaded + result.rows_quarantined > 1
    [refused] = [
        q
        for q in table(lake, "quarantine", "hotline_12345").to_pylist()
        if q["reason"] == "key 'status' appears twice in one object"
    ]
    assert '"status": "open", "status": "closed", "a": null' in refused["raw"]


def test_tables_read_back_with_their_text_as_written_at_any_depth(tmp_path) -> None:
    """delta-rs's engine answers text as string_view, which pandas cannot take inside a list."""
    from deltalake import write_deltalake

    from assets.ingest.tables import read_table

    rows = pa.table({
        "id": ["a"],
        "tags": pa.array([["x", "y"]], pa.list_(pa.string())),
        "place": pa.array([{"street": "ST01", "cells": ["G1"]}]),
    })  # fmt: skip
    write_deltalake(str(tmp_path / "t"), rows)
    back = read_table(str(tmp_path / "t"))
    assert back.schema == rows.schema
    assert back.to_pandas()["tags"].tolist()[0].tolist() == ["x", "y"]


def test_a_document_record_with_a_lone_surrogate_escape_is_quarantined(lake, tmp_path) -> None:
    doc = station_status()
    records = [json.dumps(s) for s in doc["data"]["stations"]]
    records[0] = records[0].replace('"TST:Station:1"', '"TST:Station:\\udc00"')
    records.append('"站\\ud800"')  # not an object either
    records.append('{"station_id": "x\\ud800", "a": 1, "a": 2}')  # a key named twice too
    result = ingest_station_status(lake, tmp_path, gbfs_text(doc, records))
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 1, 3)
    rows = table(lake, "quarantine", "bike_station_status").sort_by("source_line").to_pylist()
    half = "is half of a UTF-16 surrogate pair, not a character"
    assert [(q["source_line"], q["reason"], q["raw"]) for q in rows] == [
        (1, f"\\udc00 {half}", json.dumps(json.loads(records[0]))),
        (3, f"\\ud800 {half}", '"\\u7ad9\\ud800"'),  # escaped: UTF-8 holds no half pair
        (4, "key 'a' appears twice in one object", '{"station_id": "x\\ud800", "a": 1, "a": 2}'),
    ]


def test_a_lone_surrogate_escape_in_a_field_every_record_shares_quarantines_the_file(
    lake, tmp_path
) -> None:
    doc = station_status()
    text = gbfs_text(doc, [json.dumps(s) for s in doc["data"]["stations"]])
    text = text.replace('"version": ', '"version": "\\ud800", "v": ', 1)
    result = ingest_station_status(lake, tmp_path, text)
    assert (result.status, result.reason) == (
        "quarantined",
        "the document's own fields: \\ud800 is half of a UTF-16 surrogate pair, not a character",
    )


POWER = "power_company/meter_readings/power_readings_20261116.parquet"


def power_readings(rows: int, reading: pa.Array | None = None) -> pa.Table:
    """Power-meter readings as a Parquet export holds them."""
    return pa.table({
        "meter_id": [f"PM{i:08d}" for i in range(rows)],
        "flat_id": [f"F{i:08d}" for i in range(rows)],
        "read_at": pa.array([datetime(2026, 11, 16, 6)] * rows, pa.timestamp("us")),
        "reading": reading if reading is not None else pa.array([float(i) for i in range(rows)]),
    })  # fmt: skip


@pytest.mark.parametrize(
    "kind", [pa.float16(), pa.decimal256(40, 3)], ids=["half float", "256-bit decimal"]
)
def test_parquet_number_types_duckdb_cannot_read_are_validated_all_the_same(lake, kind) -> None:
    """DuckDB raised NotImplementedException on these: the run crashed on every retry."""
    values = pa.array([1.5, -2.0]).to_numpy()
    reading = (
        pa.array(values.astype("float16"))
        if kind == pa.float16()
        else pa.array([str(v) for v in values]).cast(kind)
    )
    nested = pa.array([[v] for v in reading.to_pylist()], pa.list_(kind))  # an extra field
    rows = power_readings(2, reading).append_column("extras", nested)
    pq.write_table(rows, deliver(lake, POWER, b""))
    [result] = ingest(lake, contract("meter_readings_power"))
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    bronze = table(lake, "bronze", "meter_readings_power")
    assert bronze.column("reading").to_pylist() == [1.5]
    assert bronze.column("extras").to_pylist()[0] in ("[1.5]", "[1.500]")  # kept as text
    [bad] = table(lake, "quarantine", "meter_readings_power").to_pylist()
    assert bad["reason"].endswith("is below the minimum 0")


def test_a_parquet_footer_naming_a_column_in_gbk_quarantines_the_file(lake) -> None:
    """A legacy writer's column name that is not UTF-8: pyarrow raised UnicodeDecodeError."""
    path = deliver(lake, POWER, b"")
    pq.write_table(power_readings(2).append_column("zz", pa.array(["a", "b"])), path,
                   store_schema=False)  # fmt: skip
    path.write_bytes(path.read_bytes().replace(b"zz", "读".encode("gbk")))
    [result] = ingest(lake, contract("meter_readings_power"))
    assert (result.status, result.rows_read) == ("quarantined", 1)
    assert result.reason.startswith("not a readable Parquet file: 'utf-8' codec can't decode")


def test_a_parquet_file_damaged_inside_a_row_group_is_quarantined_with_its_row_count(
    lake,
) -> None:
    path = deliver(lake, POWER, b"")
    pq.write_table(power_readings(3000), path, row_group_size=1000, compression="none")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2  # the second row group; the footer stays readable
    data[middle : middle + 500] = b"\x07" * 500
    path.write_bytes(bytes(data))
    [result] = ingest(lake, contract("meter_readings_power"))
    assert result.status == "quarantined"
    assert result.reason.startswith("damaged Parquet data (read ")
    assert result.reason.split("read ")[1].startswith(("0 of 3,000", "1,000 of 3,000"))
    assert (result.rows_read, result.rows_quarantined, result.rows_loaded) == (3000, 3000, 0)
    assert table(lake, "bronze", "meter_readings_power").num_rows == 0


def test_a_document_nested_past_the_parsers_limit_is_quarantined(lake, tmp_path) -> None:
    text = '{"last_updated": 1, "data": {"stations": [{"x": ' + "[" * 1100 + "]" * 1100 + "}]}}"
    result = ingest_station_status(lake, tmp_path, text)
    assert (result.status, result.reason) == (
        "quarantined",
        "invalid JSON: nested deeper than the reader allows",
    )


def test_parquet_text_views_load_beside_a_refused_row(lake) -> None:
    """Arrow cannot select rows of a string_view column: the run crashed on the refused row."""
    rows = power_readings(2, pa.array([1.5, -5.0]))
    rows = rows.set_column(0, "meter_id", rows.column("meter_id").cast(pa.string_view()))
    pq.write_table(rows, deliver(lake, POWER, b""))
    [result] = ingest(lake, contract("meter_readings_power"))
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    assert table(lake, "bronze", "meter_readings_power").column("meter_id").to_pylist() == [
        "PM00000000"
    ]


def test_a_parquet_timestamp_past_duckdbs_range_quarantines_its_file_only(lake) -> None:
    """Found by fuzzing: DuckDB failed on it and invalidated its connection, so every file of
    the system in the run failed with it."""
    good = power_readings(1)
    bad = good.set_column(2, "read_at", pa.array([10**15], pa.timestamp("s")))
    pq.write_table(good, deliver(lake, POWER.replace("20261116", "a"), b""))
    pq.write_table(bad, deliver(lake, POWER.replace("20261116", "b"), b""))
    results = ingest(lake, contract("meter_readings_power"))
    assert [(r.status, r.rows_loaded) for r in results] == [("loaded", 1), ("quarantined", 0)]
    assert results[1].reason.startswith("a value past what validation can hold: ")


@pytest.mark.parametrize(
    ("depth", "names", "named"),
    [
        ("a struct", ["a", "a"], "'a'"),
        ("a list of structs", ["a", "a"], "'a'"),
        ("a struct", ["x", "X"], "'x' and 'X'"),  # DuckDB reads names case aside
    ],
)
def test_a_parquet_struct_naming_two_children_alike_quarantines_the_file(
    lake, depth, names, named
) -> None:
    """Found by fuzzing: DuckDB refused the struct and the run crashed on every retry."""
    twins = pa.StructArray.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=names)
    if depth == "a list of structs":
        twins = pa.ListArray.from_arrays(pa.array([0, 1, 2], pa.int32()), twins)
    pq.write_table(power_readings(2).append_column("extra", twins), deliver(lake, POWER, b""))
    [result] = ingest(lake, contract("meter_readings_power"))
    assert (result.status, result.rows_read, result.rows_quarantined) == ("quarantined", 2, 2)
    assert result.reason == f"field 'extra' holds two fields named {named}"


def test_parquet_values_typed_or_large_text_meet_the_rules_text_meets(lake, tmp_path) -> None:
    """A float into a whole-number column was rounded (2.5 to 2), and `large_string` (what
    polars writes) skipped normalising and the rules for text."""

    def whole_readings(doc: dict) -> None:
        column(doc, "reading").update(physicalType="BIGINT", logicalType="integer")

    rows = power_readings(4, pa.array([3.0, 4.0, 2.5, 1.0]))
    meters = ["PM00000000", " PM0000000１\u200b", "PM00000002", "PM00000003"]
    rows = rows.set_column(0, "meter_id", pa.array(meters, pa.large_string()))
    pq.write_table(rows, deliver(lake, POWER, b""))
    flags = power_readings(1).set_column(3, "reading", pa.array([True]))  # not a number
    pq.write_table(flags, deliver(lake, POWER.replace("20261116", "flags"), b""))
    whole = edited_contract(tmp_path, "meter_readings_power", whole_readings)
    result, flagged = ingest(lake, whole)
    assert (flagged.rows_loaded, flagged.rows_quarantined) == (0, 1)
    assert (result.rows_loaded, result.rows_quarantined) == (3, 1)
    bronze = table(lake, "bronze", "meter_readings_power")
    assert bronze.column("meter_id").to_pylist() == ["PM00000000", "PM00000001", "PM00000003"]
    assert bronze.column("reading").to_pylist() == [3, 4, 1]
    assert sorted(reasons(lake, "meter_readings_power")) == [
        'reading: "2.5" is not a valid bigint',
        'reading: "true" is not a valid bigint',
    ]


def unchecked_text(values: list[bytes]) -> pa.Array:
    """A string array built from bytes as a Parquet writer may hold them: not checked as UTF-8."""
    offsets = np.cumsum([0] + [len(v) for v in values]).astype(np.int32)
    buffers = [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(values))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def test_parquet_text_that_is_not_utf8_is_rejected_row_by_row(lake) -> None:
    """Found by fuzzing: DuckDB failed fatally on such text, and every later file of the run with
    it; where it passed, it reached a Delta table that then could not be read."""
    rows = power_readings(4)
    meters = [b"PM00000000", b"PM\xe4\xb8", b"PM2", b"PM00000003"]
    rows = rows.set_column(0, "meter_id", unchecked_text(meters))
    rows = rows.append_column("note", unchecked_text([b"ok", b"fine", b"x\xff", b"ok"]))
    payloads = unchecked_text([b"1", b"2", b"3", b"\xfe"])
    rows = rows.append_column("payload", pa.ExtensionArray.from_storage(pa.json_(), payloads))
    # a date Python cannot hold, in a refused row: building its raw text crashed the run
    rows = rows.append_column("due", pa.array([0, 3_000_000, 0, 0], pa.date32()))
    pq.write_table(rows, deliver(lake, POWER, b""))
    [result] = ingest(lake, contract("meter_readings_power"))
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (4, 1, 3)
    assert table(lake, "bronze", "meter_readings_power").column("note").to_pylist() == ["ok"]
    quarantined = table(lake, "quarantine", "meter_readings_power").sort_by("source_line")
    assert quarantined.column("reason").to_pylist() == [
        "meter_id: not valid utf-8: byte 0xe4 at byte 2",
        "note: not valid utf-8: byte 0xff at byte 1",
        "payload: not valid utf-8: byte 0xfe at byte 0",  # JSON text: row by row too
    ]
    raw = quarantined.column("raw").to_pylist()[0]
    assert "PM\\\\xe4\\\\xb8" in raw and '"due": "10183-09-21"' in raw


def test_memory_running_short_while_reading_parquet_leaves_the_file_pending(
    lake, monkeypatch
) -> None:
    """Arrow's memory error is no damage: the file must not be quarantined for ever."""
    from assets.ingest.ingest import FilesFailed, ingest_landing

    def short_of_memory(*args, **kwargs):
        raise pa.ArrowMemoryError("malloc of size 1073741824 failed")

    pq.write_table(power_readings(2), deliver(lake, POWER, b""))
    monkeypatch.setattr(pq.ParquetFile, "iter_batches", short_of_memory)
    with pytest.raises(FilesFailed, match="ArrowMemoryError"):
        ingest_landing(contract("meter_readings_power"), lake, "test")
    monkeypatch.undo()
    [result] = ingest(lake, contract("meter_readings_power"))
    assert (result.status, result.rows_loaded) == ("loaded", 2)


def test_a_parquet_footer_pyarrow_cannot_take_quarantines_the_file(lake) -> None:
    """Found by fuzzing: `ArrowNotImplementedError` escaped the reader, on every run."""
    damaged = (FIXTURES / "damaged/int_more_than_64_bits.parquet").read_bytes()
    deliver(lake, POWER, damaged)
    [result] = ingest(lake, contract("meter_readings_power"))
    assert (result.status, result.rows_read, result.rows_quarantined) == ("quarantined", 1, 1)
    assert result.reason.startswith("not a readable Parquet file: ")
    assert "more than 64 bits" in result.reason


def test_parquet_maps_dictionaries_json_and_twin_fields_of_two_types_load(lake) -> None:
    """Found by fuzzing, each failed its file on every run: a map naming a key twice (DuckDB
    refuses it), JSON text that is not JSON (DuckDB's `to_json` failed fatally quarantining its
    row), and one column delivered twice in two types (DuckDB's coalesce takes one type).
    Dictionary text (pandas' categoricals) skipped the rules for text."""
    rows = power_readings(2, pa.array([1.5, None]))
    extras = {
        "tags": pa.array([[("a", 1), ("a", 2)], []], pa.map_(pa.string(), pa.int64())),
        "payload": pa.array(["{}", "not json"], pa.json_()),
        "READING": pa.array([None, "-1"]),  # `reading` again, as text, where it is missing
        "quality_code": pa.array([" measured", "measured"]).dictionary_encode(),
    }
    for name, values in extras.items():
        rows = rows.append_column(name, values)
    pq.write_table(rows, deliver(lake, POWER, b""))
    [result] = ingest(lake, contract("meter_readings_power"))
    assert (result.rows_loaded, result.rows_quarantined) == (1, 1)
    [loaded] = table(lake, "bronze", "meter_readings_power").to_pylist()
    assert (loaded["reading"], loaded["quality_code"]) == (1.5, "measured")
    assert loaded["tags"] == "[{'key': a, 'value': 1}, {'key': a, 'value': 2}]"  # both kept
    [refused] = table(lake, "quarantine", "meter_readings_power").to_pylist()
    assert refused["reason"] == 'reading: "-1" is below the minimum 0'
    assert "not json" in refused["raw"]
