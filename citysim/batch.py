"""What a system generator hands to the exporter, and what it is given for one day."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from citysim.config import RunConfig
from citysim.world import World


@dataclass
class Batch:
    """Rows one system exports into one landing file (several batches may share a file)."""

    system: str
    path: str
    frame: pd.DataFrame
    header: dict = field(default_factory=dict)  # feed-level fields, e.g. GBFS version


@dataclass
class Truth:
    """The ground truth a run writes apart from the landing data."""

    incidents: list[pd.DataFrame] = field(default_factory=list)
    dirt: Counter = field(default_factory=Counter)  # (system, kind) -> rows affected
    complaints: list[pd.DataFrame] = field(default_factory=list)  # flats reported to 12345

    def record(self, frame: pd.DataFrame) -> None:
        """Keep incidents: event_type, started_at, street_code, grid_cell, system, record_id."""
        if len(frame):
            self.incidents.append(frame)


@dataclass
class Day:
    """Everything a generator needs to play its system for one day."""

    cfg: RunConfig
    world: World
    day: date
    index: int  # 0 for the first simulated day
    rng: np.random.Generator
    truth: Truth
    carry: dict  # the system's own state from one day to the next (e.g. open work orders)

    def mean(self, per_day_at_scale_one: float) -> float:
        """Expected count of a daily event at this run's scale."""
        return per_day_at_scale_one * self.cfg.scale

    @property
    def stamp(self) -> str:
        """The day as YYYYMMDD, for file names."""
        return f"{self.day:%Y%m%d}"


def ids(prefix: str, day: Day, system_no: int, n: int, width: int) -> list[str]:
    """Record ids unique across days: prefix, day stamp-derived block, sequence."""
    base = (day.index * 100 + system_no) * 10 ** (width - 5)
    return [f"{prefix}{base + i:0{width}d}" for i in range(n)]


def incidents(
    events: pd.DataFrame, system: str, record_ids: list[str], type_col: str = "event_type"
) -> pd.DataFrame:
    """Truth rows for events a system reports one-to-one."""
    return pd.DataFrame(
        {
            "event_type": events[type_col].to_numpy(),
            "started_at": events["at"].to_numpy(),
            "street_code": events["street_code"].to_numpy(),
            "grid_cell": events["grid_cell"].to_numpy(),
            "system": system,
            "record_id": record_ids,
        }
    )


def hourly(
    system: str, frame: pd.DataFrame, time_column: str, path: str, keep_empty: bool = False
) -> Iterator[Batch]:
    """One file per hour of the day's rows (`path` has `{hour}`); empty hours only if asked."""
    hour = frame[time_column].dt.hour.to_numpy()
    for h in range(24):
        part = frame[hour == h]
        if len(part) or keep_empty:
            yield Batch(system, path.format(hour=f"{h:02d}"), part)
