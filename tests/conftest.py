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
