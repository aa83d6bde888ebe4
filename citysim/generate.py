"""Run the simulation: build the city, play every system day by day, write landing and truth."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import timedelta

import numpy as np
import pandas as pd
from tqdm import tqdm

from citysim.batch import Batch, Day, Truth
from citysim.config import RunConfig
from citysim.contracts import system_specs
from citysim.export import Exporter
from citysim.geo import Geo
from citysim.systems import bikes, emergency, homes, sensing, traffic, workorders
from citysim.world import World, build_world

Generator = Callable[[Day], Iterator[Batch]]
GENERATORS: dict[str, Generator] = {
    fn.__name__: fn
    for module in (emergency, workorders, sensing, homes, traffic, bikes)
    for fn in vars(module).values()
    if callable(fn) and getattr(fn, "__module__", "") == module.__name__
}


def generators_for(specs: dict) -> dict[str, Generator]:
    """The generator of every contracted system; a contract with none is an error."""
    missing = sorted(set(specs) - set(GENERATORS))
    if missing:
        raise SystemExit(f"citysim: no generator for contracted systems {missing}")
    return {sid: GENERATORS[sid] for sid in sorted(specs)}


def stream(sid: str) -> int:
    """A stable random-stream number per system (adding a system changes no other's data)."""
    return zlib.crc32(sid.encode())


def generate(cfg: RunConfig, progress: bool = True) -> dict:
    """Write `cfg.days` days of every system into `cfg.out` and the truth into `cfg.truth_out`."""
    specs = system_specs()
    systems = generators_for(specs)
    if cfg.only:
        systems = {k: v for k, v in systems.items() if k in cfg.only}
    world = build_world(cfg, Geo.load())
    truth = Truth()
    cfg.out.mkdir(parents=True, exist_ok=True)
    exporter = Exporter(cfg.out, specs, cfg.dirt_rate, truth.dirt)
    carry: dict[str, dict] = {sid: {} for sid in systems}
    rows: dict[str, int] = dict.fromkeys(systems, 0)
    bar = tqdm(
        total=cfg.days * len(systems), unit="system-day", disable=not progress, desc="citysim"
    )
    for index in range(cfg.days):
        the_day = cfg.start + timedelta(days=index)
        for sid, play in systems.items():
            bar.set_postfix_str(f"{the_day} {sid}")
            rng = np.random.default_rng([cfg.seed, index, stream(sid)])
            dirt_rng = np.random.default_rng([cfg.seed, index, stream(sid), 1])
            day = Day(cfg, world, the_day, index, rng, truth, carry[sid])
            for batch in play(day):
                exporter.write(batch, dirt_rng)
                rows[sid] += len(batch.frame)
            bar.update(1)
        if index == cfg.days - 1:
            exporter.flush_held()
        exporter.finish_day(np.random.default_rng([cfg.seed, index, 2]))
    bar.close()
    summary = write_truth(cfg, world, truth, exporter, rows)
    return summary


def write_truth(
    cfg: RunConfig, world: World, truth: Truth, exporter: Exporter, rows: dict[str, int]
) -> dict:
    """The ground truth, apart from the landing data: only evaluation code reads it."""
    out = cfg.truth_out
    out.mkdir(parents=True, exist_ok=True)
    f = world.flats
    complaints = (
        pd.concat(truth.complaints, ignore_index=True)
        if truth.complaints
        else pd.DataFrame(columns=["flat_id"])
    )
    gr = f[f["is_group_rental"]][
        ["flat_id", "street_code", "committee_code", "registered_occupants", "actual_occupants"]
    ]
    gr = gr.assign(complained=gr["flat_id"].isin(complaints["flat_id"]))
    gr.to_csv(out / "group_rentals.csv", index=False)
    complaints.to_csv(out / "group_rental_complaints.csv", index=False)
    world.clones.to_csv(out / "cloned_plates.csv", index=False)
    trucks = world.trucks[["plate", "site_id", "behaviour", "has_cover_sensor"]]
    trucks.to_csv(out / "muck_trucks.csv", index=False)
    incidents = (
        pd.concat(truth.incidents, ignore_index=True)
        if truth.incidents
        else pd.DataFrame(columns=["system", "record_id", "started_at"])
    )
    incidents["started_at"] = pd.to_datetime(incidents["started_at"], utc=True)
    incidents.sort_values(["started_at", "system", "record_id"], kind="stable").to_csv(
        out / "incidents.csv", index=False
    )
    dirt = pd.DataFrame(
        [(s, k, n) for (s, k), n in sorted(truth.dirt.items())], columns=["system", "kind", "count"]
    )
    dirt.to_csv(out / "dirt.csv", index=False)
    files = pd.DataFrame([asdict(r) for r in exporter.files.values()]).sort_values("path")
    files.to_csv(out / "files.csv", index=False)
    summary = {
        "scale": cfg.scale,
        "days": cfg.days,
        "seed": cfg.seed,
        "start": cfg.start.isoformat(),
        "dirt_rate": cfg.dirt_rate,
        "rows_generated": dict(sorted(rows.items())),
        "rows_total": int(sum(rows.values())),
        "files": len(files),
        "group_rentals": len(gr),
        "cloned_plates": len(world.clones),
        "incidents": len(incidents),
    }
    (out / "manifest.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return summary
