"""Governed sharing on a simulated city: grants published masked and cut to jurisdiction, served
by the Delta Sharing server, read by the official client, and refused everything else - with
every request in the audit log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
import requests
import uvicorn
from deltalake import DeltaTable

from apps.share_server.audit import AuditLog
from apps.share_server.server import make_app
from assets.ingest.tables import read_table
from assets.registry.reference import Reference
from assets.risk.risk_assets import risk_assets
from assets.sharing import recipients
from assets.sharing.publish import TOKEN_PREFIX
from assets.sharing.share_assets import ShareKeyResource, share_assets
from bench.harness import free_port
from tests.ingest_support import table

CLIENT = Path(__file__).resolve().parents[1] / ".venv-sharing" / "bin" / "python"
URL_KEY = b"test-url-key-0123456789abcdef012"
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z_.])[1-9][0-9]{16}[0-9X](?![0-9A-Za-z])")
MOBILE = re.compile(
    r"(?<![0-9A-Za-z_.])1[3-9][0-9]{9}(?![0-9A-Za-z])"
)  # not inside a number or a token
PLATE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z][A-Z0-9]{5,6}"
)


@pytest.fixture(scope="module")
def shared(built) -> tuple:
    """The small city with its risk scores and every grant published."""
    lake, _, result = built
    day = max(e.partition for e in result.get_asset_materialization_events())
    assert dg.materialize(risk_assets, partition_key=day, resources={"lake": lake}).success
    key = ShareKeyResource(key="test-share-key")
    assert dg.materialize(share_assets, resources={"lake": lake, "share_key": key}).success
    return lake


def manifest(lake, share: str) -> dict:
    return json.loads(Path(lake.uri("shares", share, "_manifest.json")).read_text())


def test_column_tiers_are_traced_through_the_models(shared) -> None:
    """The build traced the granted marts: a value derived from a plate is L3, a count of
    complaints is L1 (aggregated), a column marked declassified takes its declared tier."""
    lake = shared
    traced = json.loads(Path(lake.uri("gold", "_column_tiers.json")).read_text())
    muck, hotline = traced["mart_muck_truck_case"], traced["mart_hotline_complaints"]
    assert muck["case_id"] == {"tier": "L3", "how": "lineage"}  # plate || date || type
    assert muck["plate"] == {"tier": "L3", "how": "lineage"}
    assert hotline["complaints"] == {"tier": "L1", "how": "lineage"}
    assert muck["points"]["tier"] == "L2" and muck["points"]["how"].startswith("declassified")
    work = traced["fct_work_order"]
    assert sum(c["how"] == "lineage" for c in work.values()) == len(work)


def test_a_sub_centre_gets_only_its_street(shared) -> None:
    lake = shared
    events = table(lake, "shares", "st01_city/events/fct_city_event").to_pandas()
    gold = table(lake, "gold", "fct_city_event").to_pandas()
    assert len(events) == (gold["street_code"] == "ST01").sum() > 0
    assert set(events["street_code"]) == {"ST01"}
    assert sorted(events["event_id"]) == sorted(gold.loc[gold["street_code"] == "ST01", "event_id"])
    entry = manifest(lake, "st01_city")
    assert entry["clearance"] == "L2" and entry["jurisdiction"] == "ST01"
    versions = {t["table"]: t["source_version"] for t in entry["tables"]}
    assert versions["fct_city_event"] == DeltaTable(lake.table("gold", "fct_city_event")).version()


def test_analysts_get_a_read_only_view_set_per_share(shared) -> None:
    lake = shared
    path = Path(lake.uri("sharing", "views", "st01_city.duckdb"))
    with duckdb.connect(str(path), read_only=True) as db:
        count = db.sql("SELECT count(*), min(street_code) FROM events.fct_city_event").fetchall()
        with pytest.raises(duckdb.Error):
            db.execute("CREATE TABLE events.mine AS SELECT 1")
    published = table(lake, "shares", "st01_city/events/fct_city_event")
    assert count == [(published.num_rows, "ST01")]


def test_columns_above_clearance_are_tokenised_and_still_join(shared) -> None:
    lake = shared
    greening = table(lake, "shares", "greening_muck/muck/mart_muck_truck_case").to_pandas()
    traffic = table(lake, "shares", "traffic_cloned_plates/muck/mart_muck_truck_case").to_pandas()
    gold = table(lake, "gold", "mart_muck_truck_case").to_pandas()
    assert len(greening) == len(gold) > 0
    assert greening["plate"].str.startswith(TOKEN_PREFIX).all()  # L2 consumer, L3 column
    assert sorted(traffic["plate"]) == sorted(gold["plate"])  # L3 consumer sees it
    assert greening["plate"].nunique() == gold["plate"].nunique()  # one token per plate
    plans = {c["name"]: c for c in manifest(lake, "greening_muck")["tables"][0]["columns"]}
    assert plans["plate"] == {"name": "plate", "tier": "L3", "action": "tokenise"}
    assert plans["event_type"]["action"] == "keep"


def test_an_l2_consumer_loses_l2_columns_it_cannot_see(shared, tmp_path) -> None:
    """A consumer below a column's tier never gets it: drop for L2 (tiers.yaml)."""
    from assets.registry import Tier
    from assets.sharing.publish import column_plans

    plans = column_plans(
        "gold", "fct_city_event", {"lon": "DOUBLE", "street_code": "VARCHAR"}, Tier.L1, Reference()
    )
    assert [(p.name, p.action) for p in plans] == [("lon", "drop"), ("street_code", "keep")]


def scan_parquet(path: Path) -> list[str]:
    """Personal identifiers found in the text of one Parquet file."""
    found = []
    for column in pq.read_table(path).to_pylist():
        for value in column.values():
            text = json.dumps(value, ensure_ascii=False, default=str)
            found += ID_NUMBER.findall(text) + MOBILE.findall(text) + PLATE.findall(text)
    return found


def test_no_share_below_l3_holds_an_id_number_a_mobile_or_a_plate(shared) -> None:
    lake = shared
    below = {
        g.share for g in Reference().grants if Reference().consumer(g.consumer).clearance.rank < 3
    }
    files = [p for s in below for p in Path(lake.uri("shares", s)).rglob("*.parquet")]
    assert files and below == {"st01_city", "greening_muck"}
    assert [f for f in files if scan_parquet(f)] == []
    # and the scan does see them where they are: the L3 traffic share has full plates
    traffic = Path(lake.uri("shares", "traffic_cloned_plates")).rglob("*.parquet")
    assert any(scan_parquet(f) for f in traffic)


# --- the server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(shared):
    """The sharing server over the shared lake, on a free port; stopped (audit written) after."""
    lake = shared
    app = make_app(lake, URL_KEY)
    port = free_port()
    runner = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    while not runner.started:
        time.sleep(0.05)
    yield lake, f"http://127.0.0.1:{port}", app
    runner.should_exit = True
    thread.join()


def token_for(lake, consumer: str, days: int = 1) -> str:
    token, _ = recipients.issue(lake, consumer, days)
    time.sleep(2.1)  # the server re-reads tokens at most every 2 s
    return token


def get(base: str, path: str, token: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(f"{base}/delta-sharing{path}", headers=headers, timeout=10)


def query(base: str, path: str, token: str, body: dict | None = None) -> requests.Response:
    return requests.post(
        f"{base}/delta-sharing{path}/query",
        headers={"Authorization": f"Bearer {token}"},
        json=body or {},
        timeout=10,
    )


EVENTS = "/shares/st01_city/schemas/events/tables/fct_city_event"


def test_the_official_client_reads_exactly_what_the_grant_allows(server, tmp_path) -> None:
    lake, base, _ = server
    assert CLIENT.exists(), "the delta-sharing client's venv is missing: `make test` creates it"
    profile = recipients.write_profile(
        tmp_path, "greening", f"{base}/delta-sharing", token_for(lake, "greening"),
        datetime.now(UTC) + timedelta(days=1),
    )  # fmt: skip
    script = (
        "import sys, json, delta_sharing as ds\n"
        "p = sys.argv[1]\n"
        "listed = ds.SharingClient(p).list_all_tables()\n"
        "tables = [f'{t.share}.{t.schema}.{t.name}' for t in listed]\n"
        "df = ds.load_as_pandas(p + '#greening_muck.muck.mart_muck_truck_case')\n"
        "few = ds.load_as_pandas(p + '#greening_muck.muck.mart_muck_truck_case', limit=2)\n"
        "print(json.dumps({'tables': tables, 'rows': df.astype(str).to_dict('records'),\n"
        "                  'columns': list(df.columns), 'few': len(few)}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the client's own world
    done = subprocess.run(
        [str(CLIENT), "-c", script, str(profile)],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    assert got["tables"] == ["greening_muck.muck.mart_muck_truck_case"]
    published = table(lake, "shares", "greening_muck/muck/mart_muck_truck_case").to_pandas()
    assert got["columns"] == list(published.columns) and got["few"] == 2
    assert sorted(r["plate"] for r in got["rows"]) == sorted(published["plate"])
    assert all(r["plate"].startswith(TOKEN_PREFIX) for r in got["rows"])
    assert sorted(r["case_date"] for r in got["rows"]) == sorted(published["case_date"].astype(str))


def test_a_token_sees_only_its_grants_and_cannot_probe_others(server) -> None:
    lake, base, _ = server
    token = token_for(lake, "sub_centre_ST01")
    assert [s["name"] for s in get(base, "/shares", token).json()["items"]] == ["st01_city"]
    hidden = get(base, "/shares/housing_group_rentals/all-tables", token)
    missing = get(base, "/shares/no_such_share/all-tables", token)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["errorCode"] == missing.json()["errorCode"]  # no way to tell them apart
    other = "/shares/housing_group_rentals/schemas/risk/tables/group_rental_scores"
    assert query(base, other, token).status_code == 404
    assert get(base, "/shares/st01_city/schemas/risk/tables", token).status_code == 404
    for probe in ("/shares/..%2F..%2Fgold/schemas", "/shares/st01_city/schemas/..%2Fevents/tables"):
        assert get(base, probe, token).status_code == 404
    assert query(base, EVENTS, token).status_code == 200


def test_missing_garbled_expired_revoked_and_rotated_tokens_are_refused(server) -> None:
    lake, base, _ = server
    expired, _ = recipients.issue(lake, "housing", -1)
    old = recipients.issue(lake, "city_ops_centre", 1)[0]
    current = token_for(lake, "city_ops_centre")  # rotation: the old one is revoked
    revoked = token_for(lake, "traffic_police")
    recipients.revoke(lake, "traffic_police")
    time.sleep(2.1)
    for token in (None, "cbs_nothing_here", current[:-2] + "xx", expired, old, revoked):
        assert get(base, "/shares", token).status_code == 401, token
    assert get(base, "/shares", current).status_code == 200


def signed(base: str, rel: str, consumer: str, expires: int) -> str:
    import base64
    import hashlib
    import hmac

    mac = hmac.new(URL_KEY, f"{consumer}\n{rel}\n{expires}".encode(), hashlib.sha256).digest()
    sig = base64.urlsafe_b64encode(mac).decode().rstrip("=")
    return f"{base}/files/{rel}?r={consumer}&exp={expires}&sig={sig}"


def test_file_urls_are_signed_short_lived_and_confined(server) -> None:
    lake, base, _ = server
    token = token_for(lake, "sub_centre_ST01")
    lines = [json.loads(x) for x in query(base, EVENTS, token).text.splitlines()]
    url = next(x["file"]["url"] for x in lines if "file" in x)
    assert requests.get(url, timeout=10).status_code == 200
    ranged = requests.get(url, headers={"Range": "bytes=0-3"}, timeout=10)
    assert ranged.status_code == 206 and ranged.content == b"PAR1"
    assert requests.get(url[:-3] + "abc", timeout=10).status_code == 403  # tampered signature
    other = url.replace("fct_city_event", "fct_work_order")
    assert requests.get(other, timeout=10).status_code == 403  # the signature is for one file
    rel = url.split("/files/")[1].split("?")[0]
    stale = signed(base, rel, "sub_centre_ST01", int(time.time()) - 1)
    assert requests.get(stale, timeout=10).status_code == 403  # expired
    escape = signed(base, "st01_city/../../gold/fct_city_event/x", "sub_centre_ST01", 2**40)
    assert requests.get(escape, timeout=10).status_code in (403, 404)


def test_versions_and_metadata_follow_the_protocol(server) -> None:
    lake, base, _ = server
    token = token_for(lake, "sub_centre_ST01")
    head = requests.get(f"{base}/delta-sharing{EVENTS}/version",
                        headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    latest = DeltaTable(lake.uri("shares", "st01_city", "events", "fct_city_event")).version()
    assert head.headers["delta-table-version"] == str(latest)
    meta = [json.loads(x) for x in get(base, f"{EVENTS}/metadata", token).text.splitlines()]
    assert meta[1]["metaData"]["partitionColumns"] == ["street_code"]
    assert query(base, EVENTS, token, {"version": latest + 5}).status_code == 400
    assert query(base, EVENTS, token, {"timestamp": "2026-11-17T00:00:00Z"}).status_code == 400


def test_every_request_refused_or_not_is_in_the_audit_log(server) -> None:
    lake, base, _ = server
    token = token_for(lake, "sub_centre_ST01")
    marker = f"/shares/audit_probe_{int(time.time())}"
    assert get(base, marker, None).status_code == 401
    assert get(base, marker, token).status_code == 404
    assert query(base, EVENTS, token).status_code == 200
    time.sleep(2.5)  # the audit writer appends every second
    with duckdb.connect() as con:
        con.register("log", read_table(lake.table("audit", "share_access")))
        probes = con.sql(
            'SELECT status, recipient, outcome FROM log WHERE path LIKE ? ORDER BY "at"',
            params=[f"%{marker}"],
        ).fetchall()
        last_query = con.sql(
            'SELECT status, recipient, files, "bytes" FROM log WHERE path LIKE ? '
            'ORDER BY "at" DESC LIMIT 1',
            params=[f"%{EVENTS}/query"],
        ).fetchall()[0]
    assert [(status, who) for status, who, _ in probes] == [(401, None), (404, "sub_centre_ST01")]
    assert all(outcome.startswith("refused") for _, _, outcome in probes)
    assert last_query[:2] == (200, "sub_centre_ST01") and last_query[2] >= 1 and last_query[3] > 0


def test_the_audit_log_loses_nothing_when_closed(shared) -> None:
    lake = shared
    log = AuditLog(lake)
    before = table(lake, "audit", "share_access").num_rows
    for i in range(250):
        log.record(path=f"/burst/{i}", status=200, outcome="ok")
    log.close()
    assert table(lake, "audit", "share_access").num_rows == before + 250


def test_every_grant_is_an_asset_downstream_of_what_it_publishes() -> None:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for grant in Reference().grants:
        node = graph.get(dg.AssetKey(["shares", grant.share]))
        wanted = {
            ("city_model" if t.startswith("gold/") else "risk", t.split("/")[1])
            for s in grant.schemas
            for t in s.tables
        }
        assert {tuple(k.path) for k in node.parent_keys} == wanted
