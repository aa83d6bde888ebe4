"""The simulator: deterministic, linear in scale and days, parseable into the contracts, and
its truth agrees with what lands."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from assets.registry import load_contracts
from citysim.config import DIRT_KINDS, RunConfig
from citysim.generate import generate

CONTRACTS = {c.id: c for c in load_contracts()}
GBFS_RENAMES = {"num_vehicles_available": "num_bikes_available", "bike_id": "vehicle_id"}
GBFS_EXTRAS = {"vehicle_types_available", "is_installed", "last_reported"}


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run(tmp: Path, **kw) -> dict:
    cfg = RunConfig(out=tmp / "landing", truth_out=tmp / "truth", **kw)
    return generate(cfg, progress=False)


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    kw = {"scale": 0.002, "days": 1, "seed": 3, "dirt_rate": 0.05}
    run(tmp_path / "a", **kw)
    run(tmp_path / "b", **kw)
    a, b = digest(tmp_path / "a"), digest(tmp_path / "b")
    assert len(a) > 100
    assert a == b
    run(tmp_path / "c", **{**kw, "seed": 4})
    assert digest(tmp_path / "c") != a


def test_rows_grow_linearly_with_scale_and_days(tmp_path: Path) -> None:
    systems = (
        "meter_readings_water",
        "door_access_events",
        "alarms_110",
        "anpr_reads",
        "iot_readings",
    )
    kw = {"seed": 5, "dirt_rate": 0.0, "only": systems}
    small = run(tmp_path / "s", scale=0.005, days=1, **kw)["rows_total"]
    double_scale = run(tmp_path / "d", scale=0.01, days=1, **kw)["rows_total"]
    double_days = run(tmp_path / "t", scale=0.005, days=2, **kw)["rows_total"]
    assert double_scale / small == pytest.approx(2, rel=0.1)
    assert double_days / small == pytest.approx(2, rel=0.1)


def landing_files(landing: Path) -> list[Path]:
    return sorted(p for p in landing.rglob("*") if p.is_file())


def contract_of(rel: str) -> str:
    """The contract whose landing pattern matches a file."""
    hits = [cid for cid, c in CONTRACTS.items() if c.settings.matches(rel)]
    assert len(hits) == 1, f"{rel} matches {hits}"
    return hits[0]


def header_columns(path: Path, cid: str) -> set[str]:
    """The column names a file carries, read the simple way."""
    c = CONTRACTS[cid]
    fmt = c.settings.file_format
    if fmt == "csv":
        first = path.read_bytes().decode(c.settings.encoding).splitlines()[0]
        return set(pd.read_csv(io.StringIO(first + "\n"), sep=c.settings.delimiter).columns)
    if fmt == "parquet":
        return set(pq.read_schema(path).names)
    if fmt == "jsonl":
        line = path.read_text(encoding="utf-8").splitlines()[0]
        return set(json.loads(line)) if line.endswith("}") else set(c.column_names)
    doc = json.loads(path.read_text(encoding="utf-8"))
    if fmt == "open311_json":
        return set().union(*(r.keys() for r in doc)) if doc else set(c.column_names)
    items = next(iter(doc["data"].values()))
    keys = set().union(*(i.keys() for i in items)) if items else set()
    return {GBFS_RENAMES.get(k, k) for k in keys if k not in GBFS_EXTRAS} | {"operator"}


def test_every_system_delivers_files_that_parse_into_its_contract(small_city) -> None:
    landing, _, _ = small_city
    seen: set[str] = set()
    for path in landing_files(landing):
        rel = str(path.relative_to(landing))
        cid = contract_of(rel)
        seen.add(cid)
        columns = header_columns(path, cid)
        expected = set(CONTRACTS[cid].column_names)
        if CONTRACTS[cid].settings.file_format in ("jsonl", "open311_json", "gbfs"):
            assert columns <= expected | {"last_updated"}, (rel, columns - expected)
        else:
            assert columns == expected, (rel, columns ^ expected)
    assert seen == set(CONTRACTS)


def test_csv_exports_use_their_legacy_encodings(small_city) -> None:
    landing, _, _ = small_city
    police = next((landing / "police/alarms_110").glob("*.csv")).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        police.decode("utf-8")
    assert "浦东新区" in police.decode("gb18030")
    fire = next((landing / "fire/fire_calls_119").glob("*.csv")).read_bytes()
    assert fire.startswith(b"\xef\xbb\xbf")


def test_every_kind_of_dirt_is_injected_and_counted(small_city) -> None:
    _, truth, _ = small_city
    dirt = pd.read_csv(truth / "dirt.csv")
    counted = dirt.groupby("kind")["count"].sum()
    for kind in DIRT_KINDS:
        assert counted.get(kind, 0) > 0, kind
    files = pd.read_csv(truth / "files.csv")
    assert files["resent_of"].notna().sum() == counted["resent_file"]
    assert files["truncated"].sum() > 0


def test_resent_files_are_byte_copies(small_city) -> None:
    landing, truth, _ = small_city
    files = pd.read_csv(truth / "files.csv").dropna(subset=["resent_of"])
    for _, row in files.iterrows():
        assert (landing / row["path"]).read_bytes() == (landing / row["resent_of"]).read_bytes()


def test_each_cloned_plate_has_impossible_travel_in_the_reads(small_city) -> None:
    landing, truth, _ = small_city
    clones = pd.read_csv(truth / "cloned_plates.csv")
    reads = pd.concat(
        pq.read_table(p).to_pandas()
        for p in (landing / "traffic_police/anpr_reads").glob("*.parquet")
    )
    cams = pd.concat(
        pd.read_csv(p, encoding="utf-8")
        for p in (landing / "traffic_police/anpr_cameras").glob("*.csv")
    )
    cams = cams.drop_duplicates("camera_id").set_index("camera_id")
    reads = reads.join(cams[["lon", "lat"]].astype(float, errors="ignore"), on="camera_id").dropna(
        subset=["lon"]
    )
    found = 0
    for plate in clones["plate"]:
        r = reads[reads["plate"] == plate].sort_values("read_at")
        if len(r) < 2:
            continue
        lon, lat = r["lon"].to_numpy(float), r["lat"].to_numpy(float)
        km = np.hypot((lon[1:] - lon[:-1]) * 95.0, (lat[1:] - lat[:-1]) * 111.0)
        hours = np.diff(r["read_at"].to_numpy()).astype("timedelta64[s]").astype(float) / 3600
        speed = km / np.maximum(hours, 1 / 3600)
        found += bool((speed > 150).any())
    assert found >= 0.8 * len(clones)


def test_group_rentals_use_more_than_their_register_explains(small_city) -> None:
    landing, truth, _ = small_city
    group = set(pd.read_csv(truth / "group_rentals.csv")["flat_id"])
    assert group
    flats = pd.concat(
        pd.read_csv(p, encoding="gb18030", dtype=str, on_bad_lines="skip")
        for p in (landing / "police/flats").glob("*.csv")
    ).drop_duplicates("flat_id")
    registered = pd.to_numeric(flats.set_index("flat_id")["registered_occupants"], errors="coerce")
    power = pd.concat(
        pq.read_table(p).to_pandas()
        for p in (landing / "power_company/meter_readings").glob("*.parquet")
    )
    use = power.groupby("flat_id")["reading"].agg(lambda s: s.diff().clip(lower=0).sum())
    per_person = (use / registered.reindex(use.index).clip(lower=1)).dropna()
    normal = per_person[~per_person.index.isin(group)].median()
    grp = per_person[per_person.index.isin(group)]
    assert (grp > 2 * normal).mean() >= 0.9
