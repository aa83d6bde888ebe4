"""The lake on an object store: the small city ingested, modelled, scored and published to an
S3 lake served by moto's server on 127.0.0.1, and compared table by table with the same city on
a local lake (the session's `built` lake). Only the standard AWS_* settings point at the store.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import boto3
import dagster as dg
import pytest
from deltalake import DeltaTable

from assets.bronze import bronze_asset
from assets.bronze_checks import bronze_checks
from assets.city_model.dbt_assets import city_model, dbt_resource
from assets.ingest.ingest import ingest_landing
from assets.ingest.landing import DELIVERY_ZONE
from assets.ingest.tables import read_table
from assets.lake import LakeResource
from assets.maintenance import tables_in
from assets.reference_tables import reference_assets
from assets.registry import load_contracts
from assets.risk.risk_assets import risk_assets
from assets.sharing.share_assets import ShareKeyResource, share_assets
from bench.harness import free_port
from tests.ingest_support import contract, deliver
from tests.test_ingest_exactly_once import GAS, gas_file

BUCKET = "citybrain"
SHARE_KEY = ShareKeyResource(key="test-share-key")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server in its own process, with the environment pointing every client at it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    # No unsafe-rename switch: Delta commits through S3's conditional writes, as on AWS.
    settings = {
        "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
    }  # fmt: skip
    with pytest.MonkeyPatch.context() as env:
        for name, value in settings.items():
            env.setenv(name, value)
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield endpoint
    server.terminate()
    server.wait()


@pytest.fixture(scope="module")
def s3_lake(s3_endpoint, built, small_city, tmp_path_factory) -> tuple[LakeResource, str]:
    """(lake, day): the small city run end to end on the S3 lake, landing files on local disk."""
    landing, _, _ = small_city
    local = tmp_path_factory.mktemp("s3_local")
    shutil.copytree(landing, local / "landing")
    lake = LakeResource(root=f"s3://{BUCKET}/lake", local_dir=str(local))
    assert dg.materialize(reference_assets, resources={"lake": lake}).success
    for system in load_contracts():
        ingest_landing(system, lake, "s3-test")
    _, _, result = built
    day = max(e.partition for e in result.get_asset_materialization_events())
    resources = {"lake": lake, "dbt": dbt_resource(), "share_key": SHARE_KEY}
    assert dg.materialize([city_model], partition_key=day, resources=resources).success
    assert dg.materialize(risk_assets, partition_key=day, resources=resources).success
    assert dg.materialize(share_assets, resources=resources).success
    return lake, day


def rows(lake: LakeResource, uri_parts: tuple[str, ...]) -> int:
    """Rows in a Delta table of the lake."""
    return read_table(lake.uri(*uri_parts), storage_options=lake.storage_options).num_rows


def test_the_lake_lives_in_the_bucket_not_on_disk(s3_lake) -> None:
    lake, _ = s3_lake
    keys = [
        o["Key"]
        for page in boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    zones = {k.split("/")[1] for k in keys}
    assert {"bronze", "ledger", "gold", "risk", "shares", "reference"} <= zones
    assert any(k.endswith("_delta_log/00000000000000000000.json") for k in keys)
    assert not (lake.local() / "bronze").exists() and not (lake.local() / "gold").exists()


def test_ingest_on_s3_loads_exactly_what_the_local_lake_loads(s3_lake, built) -> None:
    lake, _ = s3_lake
    local, _, _ = built
    ledger = read_table(lake.table("ledger", "files")).to_pandas()
    assert len(ledger) > 0
    assert (ledger["rows_read"] == ledger["rows_loaded"] + ledger["rows_quarantined"]).all()
    s3_tables = [uri.rsplit("/", 1)[1] for uri in tables_in(lake, "bronze")]
    local_tables = [Path(uri).name for uri in tables_in(local, "bronze")]
    assert s3_tables == local_tables and len(s3_tables) >= 20
    for name in s3_tables:
        assert rows(lake, ("bronze", name)) == rows(local, ("bronze", name)), name


def test_dbt_reads_the_s3_lake_and_builds_the_same_marts(s3_lake, built) -> None:
    lake, _ = s3_lake
    local, _, _ = built
    marts = [Path(uri).name for uri in tables_in(local, "gold")]
    assert "mart_area_scores_daily" in marts and "fct_city_event" in marts
    counts = {m: rows(lake, ("gold", m)) for m in marts}
    assert counts == {m: rows(local, ("gold", m)) for m in marts}
    assert counts["fct_city_event"] > 100


def test_shares_are_published_to_s3_cut_to_the_street(s3_lake) -> None:
    lake, _ = s3_lake
    gold = read_table(lake.table("gold", "mart_vital_signs_daily")).to_pandas()
    share = DeltaTable(lake.uri("shares", "st01_city", "vital_signs", "mart_vital_signs_daily"))
    frame = share.to_pandas()
    assert len(frame) > 0 and set(frame["street_code"]) == {"ST01"}
    assert len(frame) == (gold["street_code"] == "ST01").sum()
    manifest = lake.uri("shares", "st01_city", "_manifest.json").split(f"s3://{BUCKET}/")[1]
    assert boto3.client("s3").head_object(Bucket=BUCKET, Key=manifest)["ContentLength"] > 0


def test_a_dagster_ingest_run_checks_its_load_on_s3(s3_lake) -> None:
    """Last: it adds a delivery. The quality checks read the new partition from the bucket."""
    lake, _ = s3_lake
    gas = contract("meter_readings_gas")
    deliver(lake, GAS.format("20261130"), gas_file(0, 40))
    today = datetime.now(DELIVERY_ZONE).date().isoformat()
    result = dg.materialize(
        [bronze_asset(gas), bronze_checks(gas)], partition_key=today, resources={"lake": lake}
    )
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["counts_balance"].passed and checks["meter_id_not_null"].passed
    assert checks["meter_id_not_null"].metadata["scope"].value == "event_date in 2026-11-16"
    history = read_table(lake.table("quality", "check_results")).to_pandas()
    recorded = history.loc[history["table"] == "meter_readings_gas", "check"]
    assert "meter_id_not_null" in set(recorded)
    # The link in the UI leads to the Data Docs as built: on this machine, not in the bucket.
    [materialised] = result.get_asset_materialization_events()
    docs = Path(materialised.materialization.metadata["data_docs"].value)
    assert docs.is_file() and docs.is_relative_to(lake.local())


def test_local_files_stay_on_this_machine_wherever_the_lake_is(tmp_path, monkeypatch) -> None:
    local = LakeResource(root=str(tmp_path / "lake"))
    assert local.landing_root == tmp_path / "lake" / "landing"
    assert local.duckdb_filesystem() is None
    remote = LakeResource(root="s3://bucket/lake", local_dir=str(tmp_path / "work"))
    assert remote.table("bronze", "x") == "s3://bucket/lake/bronze/x"
    assert remote.local("warehouse") == tmp_path / "work" / "warehouse"
    assert remote.landing_root == tmp_path / "work" / "landing"
    monkeypatch.chdir(tmp_path)
    assert (
        LakeResource(root="s3://bucket/lake").landing_root
        == tmp_path / "citybrain_local" / "landing"
    )
    assert remote.duckdb_filesystem().protocol[0] == "s3"
