"""Helpers for ingestion tests: write landing files, ingest, read what landed."""

from __future__ import annotations

import copy
from pathlib import Path

import pyarrow as pa
import yaml

from assets.ingest.ingest import FileResult, ingest_landing
from assets.ingest.tables import read_table
from assets.lake import LakeResource
from assets.registry import CONTRACTS_DIR, Contract, load_contract


def contract(system: str) -> Contract:
    """A contract from the registry."""
    return load_contract(CONTRACTS_DIR / "systems" / f"{system}.yaml")


def edited_contract(tmp: Path, system: str, edit) -> Contract:
    """A steward's edit of a contract (as a city would adapt it), loaded by the one loader."""
    doc = yaml.safe_load((CONTRACTS_DIR / "systems" / f"{system}.yaml").read_text(encoding="utf-8"))
    doc = copy.deepcopy(doc)
    edit(doc)
    path = tmp / "contracts" / f"{system}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_contract(path)


def column(doc: dict, name: str) -> dict:
    """A column of a raw contract document."""
    return next(c for c in doc["schema"][0]["properties"] if c["name"] == name)


def deliver(lake: LakeResource, rel: str, data: bytes | str, encoding: str = "utf-8") -> Path:
    """Put a file into landing/ as a unit would."""
    path = lake.landing_root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return path


def ingest(lake: LakeResource, c: Contract) -> list[FileResult]:
    """Ingest pending files; every file's counts must balance."""
    results = ingest_landing(c, lake, "test")
    for r in results:
        assert r.rows_read == r.rows_loaded + r.rows_quarantined, r
    return results


def table(lake: LakeResource, zone: str, name: str) -> pa.Table:
    """A Delta table's rows (empty table if none)."""
    rows = read_table(lake.table(zone, name))
    return pa.table({}) if rows is None else rows


def reasons(lake: LakeResource, system: str) -> list[str]:
    """Quarantine reasons of a system."""
    q = table(lake, "quarantine", system)
    return q.column("reason").to_pylist() if q.num_rows else []
