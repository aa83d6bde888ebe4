"""The simulated city's landing files, dirt and all: each kind of dirt the simulator injects
ends where it should, and the truth's counts agree with the ledger and the quarantine."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import pandas as pd
import pytest

from assets.ingest.ingest import ingest_landing
from assets.lake import LakeResource
from assets.registry import load_contracts
from tests.ingest_support import table

CONTRACTS = {c.id: c for c in load_contracts()}
PARSE = ("expected ", "invalid JSON", "a JSON ")
RANGE = ("is below the minimum", "is above the maximum")


@pytest.fixture(scope="module")
def ingested(small_city, tmp_path_factory):
    landing, truth, _ = small_city
    root = tmp_path_factory.mktemp("simulated") / "lake"
    shutil.copytree(landing, root / "landing")
    lake = LakeResource(root=str(root))
    for contract in load_contracts():
        ingest_landing(contract, lake, "sim")
    dirt = pd.read_csv(truth / "dirt.csv").groupby(["system", "kind"])["count"].sum().to_dict()
    manifest = json.loads((truth / "manifest.json").read_text())
    return lake, truth, dirt, manifest


def kinds(lake: LakeResource, system: str) -> Counter:
    """Quarantine rows of a system by kind of reason."""
    q = table(lake, "quarantine", system)
    out: Counter = Counter()
    for reason in q.column("reason").to_pylist() if q.num_rows else []:
        if reason.startswith(PARSE):
            out["parse"] += 1
        elif reason.startswith("duplicate row"):
            out["duplicate"] += 1
        elif any(r in reason for r in RANGE) and ("lon" in reason or "lat" in reason):
            out["range"] += 1
        else:
            out["other:" + reason] += 1
    return out


def test_every_landing_file_has_one_ledger_row_and_resent_copies_are_duplicates(
    ingested, small_city
):
    lake, truth, _, _ = ingested
    landing = small_city[0]
    ledger = table(lake, "ledger", "files").to_pandas()
    files = {p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file()}
    assert sorted(ledger["path"]) == sorted(files)
    resent = pd.read_csv(truth / "files.csv").dropna(subset=["resent_of"])
    assert len(resent) > 0
    status = ledger.set_index("path")["status"]
    assert (status[resent["path"]] == "duplicate").all()
    assert (ledger["rows_read"] == ledger["rows_loaded"] + ledger["rows_quarantined"]).all()


def test_each_kind_of_row_dirt_is_caught(ingested) -> None:
    lake, _, dirt, manifest = ingested
    seen = Counter()
    for system in manifest["rows_generated"]:
        got = kinds(lake, system)
        others = [k for k in got if k.startswith("other:")]
        assert not others, (
            f"{system}: unexpected reasons {others[:3]}"
        )  # full-width, dates: normalised
        malformed = dirt.get((system, "malformed_row"), 0) + dirt.get(
            (system, "truncated_last_line"), 0
        )
        duplicates = dirt.get((system, "duplicate_row"), 0)
        stray = dirt.get((system, "out_of_area"), 0)
        assert got["parse"] <= malformed, system
        assert duplicates - malformed <= got["duplicate"] <= duplicates, system
        assert got["range"] <= stray, system  # some stray points fall in the bounding margin
        seen.update(
            {
                "parse": got["parse"],
                "malformed": malformed,
                "range": got["range"],
                "stray": stray,
                "duplicate": got["duplicate"],
            }
        )
    assert seen["parse"] >= 0.95 * seen["malformed"] > 0  # a cut may leave a parseable line
    assert seen["range"] >= 0.6 * seen["stray"] > 0
    assert seen["duplicate"] > 0


def test_late_records_arrive_and_nothing_is_lost(ingested) -> None:
    lake, truth, dirt, manifest = ingested
    assert dirt[("anpr_reads", "late_record")] > 0
    # Parquet carries no malformed rows: every generated read is loaded exactly once.
    assert table(lake, "bronze", "anpr_reads").num_rows == manifest["rows_generated"]["anpr_reads"]
    files = pd.read_csv(truth / "files.csv")
    ledger = table(lake, "ledger", "files").to_pandas()
    taken = files[files["path"].isin(ledger.loc[ledger["status"] == "loaded", "path"])]
    for system, rows in taken.groupby("system")["data_rows"].sum().items():
        got = kinds(lake, system)
        upserts = CONTRACTS[system].settings.update_semantics == "upsert"
        name = f"{system}_history" if upserts else system  # every state of changing records
        loaded = table(lake, "bronze", name).num_rows
        unparsed = taken.loc[taken["system"] == system, "malformed_rows"].sum() - got["parse"]
        # Every data row is loaded unless it repeats a key or strays; a broken line that still
        # parsed (a cut inside the last field) is the only slack.
        assert 0 <= loaded - (rows - got["duplicate"] - got["range"]) <= unparsed, system


def test_fullwidth_digits_and_mixed_dates_were_present_and_normalised(ingested) -> None:
    lake, _, dirt, _ = ingested
    assert dirt[("flats", "fullwidth_digits")] > 0 and dirt[("flats", "mixed_date_format")] > 0
    flats = table(lake, "bronze", "flats").to_pandas()
    assert not flats["flat_id"].str.contains("[０-９]").any()
    assert flats["updated_at"].dt.tz is not None and flats["updated_at"].notna().all()
