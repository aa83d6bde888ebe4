"""Rates of the simulated city at scale 1.0 (the seeds' Pudong) and the knobs of one run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CONTRACTS_DIR = REPO_ROOT / "contracts"

# Entities at scale 1.0. 3.08 million smart meters = one water, power and gas meter per flat.
FLATS = 1_026_667
IOT_DEVICES = 40_000
ANPR_CAMERAS = 3_000
VEHICLES = 1_200_000
BIKE_STATIONS = 12_000
BIKE_FLEET = 200_000
MUCK_TRUCKS = 2_000
CONSTRUCTION_SITES = 600
VIDEO_CHANNELS = 15_100
GRID_INSPECTORS = 4_000

# Share of flats that are group rentals (Pudong found 4,872 in 2019) and of vehicles cloned.
GROUP_RENTAL_RATE = 0.005
GROUP_RENTAL_COMPLAINT_RATE = 0.3  # only some draw complaints during a run
CLONED_PLATE_RATE = 0.0005
OCR_MISREAD_RATE = 0.01

# Events per day at scale 1.0.
DAILY_EVENTS = {
    "alarms_110": 4_000,
    "fire_calls_119": 120,
    "ambulance_120": 900,
    "hotline_12345": 5_000,
    "grid_cases": 8_000,
    "video_ai_events": 2_000,
    "metro_faults": 12,
}
VEHICLE_ACTIVE_SHARE = 0.4  # vehicles on the road on a given day
READS_PER_ACTIVE_VEHICLE = 8
DELIVERIES_PER_FLAT = 0.25
DOOR_EVENTS_PER_PERSON = 2.5

# Minimum counts so that a tiny city still has every kind of thing.
MINIMUM = {"cameras": 40, "stations": 60, "trucks": 8, "sites": 6, "devices": 120}

OPERATORS = ("hellobike", "meituan", "qingju", "songguo", "xiaoliu", "renmin")
GBFS_VERSION = {op: ("2.3" if i % 2 == 0 else "3.0") for i, op in enumerate(OPERATORS)}

DIRT_KINDS = (
    "malformed_row",
    "truncated_last_line",
    "duplicate_row",
    "resent_file",
    "late_record",
    "out_of_area",
    "fullwidth_digits",
    "mixed_date_format",
    "ocr_misread",
    "meter_reset_unflagged",
)


@dataclass(frozen=True)
class RunConfig:
    """One simulator run."""

    scale: float
    days: int
    seed: int
    out: Path
    truth_out: Path
    start: date = date(2026, 11, 16)
    dirt_rate: float = 0.01
    chunk_rows: int = 200_000
    only: tuple[str, ...] = field(default_factory=tuple)

    def count(self, at_scale_one: float, minimum: int = 1) -> int:
        """An entity count at this run's scale."""
        return max(minimum, round(at_scale_one * self.scale))
