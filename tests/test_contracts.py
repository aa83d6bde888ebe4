"""The contract registry: every contract validates; broken ones name the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from assets.registry import CONTRACTS_DIR, ContractError, Tier, load_contract, load_contracts
from assets.registry.loader import patterns_overlap

EXPECTED_SYSTEMS = {
    "alarms_110", "fire_calls_119", "ambulance_120", "hotline_12345", "grid_cases",
    "iot_devices", "iot_readings", "meter_readings_water", "meter_readings_power",
    "meter_readings_gas", "door_access_events", "delivery_orders", "bike_station_information",
    "bike_station_status", "bike_vehicle_status", "anpr_reads", "anpr_cameras",
    "video_ai_events", "muck_permits", "muck_truck_gps", "flats", "registered_occupants",
    "vehicle_register", "group_rental_inspections", "metro_faults",
}  # fmt: skip


def test_every_contract_validates_and_the_required_systems_exist() -> None:
    contracts = load_contracts()
    assert {c.id for c in contracts} == EXPECTED_SYSTEMS
    units = {
        u["code"]
        for u in yaml.safe_load((CONTRACTS_DIR / "reference/units.yaml").read_text())["units"]
    }
    for contract in contracts:
        assert contract.unit in units
        assert contract.stewards, contract.id
        assert contract.primary_key, contract.id
        assert contract.freshness_hours > 0
        assert contract.event_time_column in contract.column_names
        for column in contract.columns:
            assert column.tier in set(Tier)
            assert len(column.description) >= 3


def test_state_changing_systems_say_how_they_update() -> None:
    by_id = {c.id: c for c in load_contracts()}
    assert by_id["hotline_12345"].settings.update_semantics == "upsert"
    assert by_id["hotline_12345"].settings.version_column == "updated_datetime"
    assert by_id["alarms_110"].settings.update_semantics == "append"


def test_personal_identifiers_carry_high_tiers() -> None:
    by_id = {c.id: c for c in load_contracts()}
    assert by_id["registered_occupants"].column("id_number").tier is Tier.L4
    assert by_id["registered_occupants"].column("phone").tier is Tier.L3
    assert by_id["anpr_reads"].column("plate").tier is Tier.L3
    assert by_id["ambulance_120"].column("chief_complaint").tier is Tier.L4


def test_enumerations_come_from_the_taxonomy() -> None:
    taxonomy = yaml.safe_load((CONTRACTS_DIR / "reference/event_taxonomy.yaml").read_text())
    codes = {e["code"] for e in taxonomy["event_types"]}
    hotline = next(c for c in load_contracts() if c.id == "hotline_12345")
    valid = hotline.column("service_code").valid_values
    assert valid and set(valid) <= codes
    assert {c for c in codes if c.startswith("noise.")} <= set(valid)


@pytest.fixture
def broken(tmp_path: Path):
    """Copy one good contract into a scratch registry and return a function that breaks it."""
    shutil.copytree(CONTRACTS_DIR / "reference", tmp_path / "reference")
    (tmp_path / "systems").mkdir()
    target = tmp_path / "systems" / "alarms_110.yaml"

    def write(mutate) -> Path:
        doc = yaml.safe_load((CONTRACTS_DIR / "systems/alarms_110.yaml").read_text())
        mutate(doc)
        target.write_text(yaml.safe_dump(doc, allow_unicode=True))
        return tmp_path

    return write


def column(doc: dict, name: str) -> dict:
    return next(p for p in doc["schema"][0]["properties"] if p["name"] == name)


def custom(doc: dict) -> list[dict]:
    return doc["customProperties"]


def prop(name: str, value: object) -> dict:
    return {"property": name, "value": value}


def drop_custom(doc: dict, name: str) -> None:
    doc["customProperties"] = [p for p in custom(doc) if p["property"] != name]


def landing_pattern(value: str):
    """A mutation giving the contract this one landing pattern."""
    return lambda d: (
        drop_custom(d, "landingPattern") or custom(d).append(prop("landingPattern", value))
    )


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: column(d, "alarm_type").pop("physicalType"), "(alarm_type).physicalType",
         "required"),
        (lambda d: column(d, "caller_phone").update(classification="L9"),
         "(caller_phone).classification", "L1"),
        (lambda d: column(d, "status").pop("required"), "(status).required", "required"),
        (lambda d: column(d, "status").update(requierd=True), "(status).requierd",
         "not permitted"),
        (lambda d: column(d, "priority").update(logicalType="string"), "(priority).logicalType",
         "BIGINT"),
        (lambda d: column(d, "alarm_id").update(primaryKey=False), "schema[0].properties",
         "primaryKey"),
        (lambda d: d.update(domain="nobody"), "domain", "unknown unit"),
        (lambda d: d.pop("slaProperties"), "slaProperties", "required"),
        (lambda d: d.update(team=[{"username": "x", "role": "owner"}]), "team", "steward"),
        (lambda d: custom(d).append(prop("eventTimeColumn", "x")), "customProperties[", "repeated"),
        (lambda d: drop_custom(d, "fileFormat"), "customProperties.fileFormat", "required"),
        (lambda d: custom(d).__setitem__(0, prop("fileFormat", "xls")),
         "customProperties.fileFormat", "csv"),
        (lambda d: d.update(id="other"), "id", "file name"),
        (lambda d: drop_custom(d, "delimiter") or custom(d).append(prop("delimiter", "；")),
         "customProperties.delimiter", "pattern"),
        (landing_pattern("police/alarms_{street_code}.csv"),
         "customProperties.landingPattern", "a placeholder is a whole folder name"),
        (landing_pattern("police/{nobody}/alarms.csv"),
         "customProperties.landingPattern", "{nobody} is not a column"),
        (landing_pattern("police/{street_code}/{street_code}/a.csv"),
         "customProperties.landingPattern", "{street_code} appears twice"),
        (lambda d: column(d, "status").update(name="event_date"), "(event_date).name",
         "partition column"),
        (lambda d: drop_custom(d, "updateSemantics") or custom(d).extend(
            [prop("updateSemantics", "upsert"), prop("versionColumn", "dispatched_at")]),
         "customProperties.versionColumn", "a required TIMESTAMP column"),
        (landing_pattern("police\\alarms_*.csv"),
         "customProperties.landingPattern", "not '\\'"),
    ],
)  # fmt: skip
def test_a_broken_contract_names_the_file_and_the_field(broken, mutate, field, words) -> None:
    root = broken(mutate)
    with pytest.raises(ContractError) as err:
        load_contracts(root)
    message = str(err.value)
    assert "alarms_110.yaml" in message
    assert field in message
    assert words in message


def test_two_systems_whose_landing_patterns_overlap_are_refused(broken, tmp_path) -> None:
    """Found in review: a contract taking `police/*/*.csv` beside alarms_110 was accepted, and
    both systems loaded the files they shared."""
    root = broken(lambda d: None)
    doc = yaml.safe_load((CONTRACTS_DIR / "systems/alarms_110.yaml").read_text())
    doc["id"] = doc["dataProduct"] = "police_exports"
    drop_custom(doc, "landingPattern")
    custom(doc).append(prop("landingPattern", "police/*/*.csv"))
    (root / "systems" / "police_exports.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True))
    with pytest.raises(ContractError) as err:
        load_contracts(root)
    assert str(err.value) == (
        f"{root / 'systems' / 'police_exports.yaml'}: customProperties.landingPattern: "
        "'police/*/*.csv' can match the files of alarms_110 ('police/alarms_110/110_*.csv'): "
        "both would load them"
    )


@pytest.mark.parametrize(
    ("first", "second", "overlap"),
    [
        ("bike_operators/{operator}/*/station_status.json",
         "bike_operators/{operator}/*/free_bike_status.json", False),
        ("police/*/*.csv", "police/alarms_110/110_*.csv", True),
        ("gas/readings_*.csv", "gas/*_20261116.csv", True),
        ("gas/readings_*.csv", "gas/meters_*.csv", False),
        ("gas/*.csv", "gas/*.json", False),
        ("gas/a/*.csv", "gas/*.csv", False),  # one folder deeper
    ],
)  # fmt: skip
def test_landing_patterns_overlap_when_one_file_can_match_both(first, second, overlap) -> None:
    assert patterns_overlap(first, second) is overlap
    assert patterns_overlap(second, first) is overlap


def test_bad_yaml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: v3.1.0\nkind: [DataContract\nid: x\n")
    with pytest.raises(ContractError) as err:
        load_contract(path)
    assert "bad.yaml" in str(err.value)
    assert "line 3" in str(err.value)
