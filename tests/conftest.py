"""Shared fixtures: a small simulated city generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysim.config import RunConfig
from citysim.generate import generate

SMALL_CITY = {"scale": 0.003, "days": 2, "seed": 7, "dirt_rate": 0.03}


@pytest.fixture(scope="session")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """(landing, truth, summary) of a 2-day city at scale 0.003 with 3% dirt."""
    root = tmp_path_factory.mktemp("city")
    cfg = RunConfig(out=root / "landing", truth_out=root / "truth", **SMALL_CITY)
    summary = generate(cfg, progress=False)
    return cfg.out, cfg.truth_out, summary


@pytest.fixture
def lake(tmp_path: Path):
    """An empty lake in a temporary folder."""
    from assets.lake import LakeResource

    root = tmp_path / "lake"
    (root / "landing").mkdir(parents=True)
    return LakeResource(root=str(root))


@pytest.fixture(scope="session")
def built(small_city, tmp_path_factory):
    """(lake, truth, result): the small city ingested, then the city model built for its last
    day in a Dagster run."""
    import shutil

    import dagster as dg
    import pandas as pd

    from assets.city_model.dbt_assets import city_model, dbt_resource
    from assets.ingest.ingest import ingest_landing
    from assets.lake import LakeResource
    from assets.reference_tables import reference_assets
    from assets.registry import load_contracts

    landing, truth, _ = small_city
    root = tmp_path_factory.mktemp("city_model") / "lake"
    shutil.copytree(landing, root / "landing")
    lake = LakeResource(root=str(root))
    assert dg.materialize(reference_assets, resources={"lake": lake}).success
    for contract in load_contracts():
        ingest_landing(contract, lake, "sim")
    incidents = pd.read_csv(truth / "incidents.csv")
    started = pd.to_datetime(incidents["started_at"]).dt.tz_convert("Asia/Shanghai")
    result = dg.materialize(
        [city_model],
        partition_key=str(started.max().date()),
        resources={"lake": lake, "dbt": dbt_resource()},
    )
    return lake, truth, result
