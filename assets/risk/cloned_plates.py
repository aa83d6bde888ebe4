"""Cloned plates (克隆车): one plate read at two cameras faster than any car could drive between
them, seen again, or seen on a car the register does not describe. One DuckDB query.

The time a car needs between two cameras comes from their geometry, per pair: the straight-line
distance (a lower bound of any road), less both cameras' position error, at the fastest speed a
road allows, less the clocks' skew. Cameras closer than their position errors never conflict.

OCR is the main source of false alarms, so:
- a read of a plate not on the register is given back to the registered plate it matches once
  the confusable characters (0/D/Q, 8/B, 2/Z, 5/S, 1/I) are set aside, when exactly one matches;
- a conflict counts only when both reads are confident, and a plate becomes a suspect on two
  conflicts, or on one with confident reads of a make or colour the register does not give it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, timedelta

import duckdb
import pyarrow as pa

from assets.delta_scan import connect_lake
from assets.lake import LakeResource
from assets.risk.outputs import SUSPECTS_SCHEMA

INPUTS = [("bronze", "anpr_reads"), ("bronze", "anpr_cameras"), ("bronze", "vehicle_register")]
CONFUSABLE_FROM, CONFUSABLE_TO = "DQBZSI", "008251"


@dataclass(frozen=True)
class CloneRules:
    """The thresholds, kept with every result as the model's parameters."""

    max_speed_kmh: float = 150.0  # faster than any road in Pudong allows (expressways: 100)
    camera_position_error_m: float = 100.0  # per camera: where it is vs where the register says
    clock_skew_s: float = 60.0  # cameras' clocks drift apart by up to this
    min_confidence: float = 0.8  # a read below this is not evidence
    min_conflicts: int = 2  # conflicts that make a suspect on their own
    min_mismatched_reads: int = 2  # confident reads off the register, with one conflict
    evidence_pairs: int = 5  # conflicting pairs kept per suspect, fastest first

    def params(self) -> dict[str, float]:
        """The rules as query parameters."""
        return asdict(self)


DISTANCE_M = (
    "2 * 6371000 * asin(sqrt(pow(sin(radians(lat - prev_lat) / 2), 2) + cos(radians(prev_lat))"
    " * cos(radians(lat)) * pow(sin(radians(lon - prev_lon) / 2), 2)))"
)

SUSPECTS_SQL = f"""
with
register as (
    select plate, vehicle_make, vehicle_colour,
        translate(plate, '{CONFUSABLE_FROM}', '{CONFUSABLE_TO}') as canon
    from bronze.vehicle_register
),
unique_canon as (
    select canon, any_value(plate) as plate from register group by canon having count(*) = 1
),
reads as (
    select distinct on (read_id) read_id, camera_id, read_at, plate as read_plate, confidence,
        vehicle_make, vehicle_colour
    from bronze.anpr_reads
    where event_date between $day_from and $day_to
),
resolved as (
    select r.*, coalesce(g.plate, u.plate, r.read_plate) as plate,
        g.plate is null and u.plate is not null as repaired
    from reads as r
    left join register as g on g.plate = r.read_plate
    left join unique_canon as u
        on g.plate is null
        and u.canon = translate(r.read_plate, '{CONFUSABLE_FROM}', '{CONFUSABLE_TO}')
),
located as (
    select r.*, c.lon, c.lat, c.street_code,
        lag(r.read_id) over w as prev_read_id, lag(r.camera_id) over w as prev_camera_id,
        lag(r.read_at) over w as prev_read_at, lag(r.confidence) over w as prev_confidence,
        lag(c.lon) over w as prev_lon, lag(c.lat) over w as prev_lat
    from resolved as r
    join bronze.anpr_cameras as c using (camera_id)
    window w as (partition by r.plate order by r.read_at, r.read_id)
),
pairs as (
    select *, {DISTANCE_M} as distance_m, epoch(read_at - prev_read_at) as seconds
    from located
    where prev_read_id is not null
),
conflicts as (
    select *,
        distance_m / greatest(seconds, $clock_skew_s) * 3.6 as implied_kmh,
        least(confidence, prev_confidence) >= $min_confidence as confident
    from pairs
    where distance_m > 2 * $camera_position_error_m
        and seconds < (distance_m - 2 * $camera_position_error_m) / ($max_speed_kmh / 3.6)
            - $clock_skew_s
),
plate_conflicts as (
    select plate,
        count(*) as conflicts,
        count(*) filter (confident) as confident_conflicts,
        max(implied_kmh) as max_implied_kmh,
        min(prev_read_at) as first_conflict_at,
        max(read_at) as last_conflict_at,
        arg_max(street_code, implied_kmh) as street_code,
        list(struct_pack(
            read_id_a := prev_read_id, camera_a := prev_camera_id, read_at_a := prev_read_at,
            read_id_b := read_id, camera_b := camera_id, read_at_b := read_at,
            distance_km := round(distance_m / 1000, 2), minutes := round(seconds / 60, 1),
            implied_kmh := round(implied_kmh, 0), confidence := least(confidence, prev_confidence)
        ) order by implied_kmh desc)[1:$evidence_pairs] as evidence
    from conflicts
    group by plate
),
off_register as (
    select r.plate,
        count(*) as reads,
        count(*) filter (r.repaired) as repaired_reads,
        count(*) filter (r.confidence >= $min_confidence and (
            r.vehicle_make <> g.vehicle_make or r.vehicle_colour <> g.vehicle_colour
        )) as mismatched_reads,
        list(distinct coalesce(r.vehicle_make, '?') || '/' || coalesce(r.vehicle_colour, '?'))
            as seen_as
    from resolved as r
    left join register as g using (plate)
    where r.plate in (select plate from plate_conflicts)
    group by r.plate
)
select
    c.plate, g.vehicle_make as register_make, g.vehicle_colour as register_colour,
    o.reads, o.repaired_reads, c.conflicts, c.confident_conflicts, o.mismatched_reads,
    o.seen_as, c.max_implied_kmh, c.first_conflict_at, c.last_conflict_at, c.street_code,
    c.evidence,
    c.confident_conflicts + least(o.mismatched_reads, $min_mismatched_reads)
        / $min_mismatched_reads as score
from plate_conflicts as c
join off_register as o using (plate)
left join register as g using (plate)
where c.confident_conflicts >= $min_conflicts
    or (c.confident_conflicts >= 1 and o.mismatched_reads >= $min_mismatched_reads)
order by score desc, max_implied_kmh desc, plate
"""


def detect_clones(
    con: duckdb.DuckDBPyConnection, day_from: date, day_to: date, rules: CloneRules
) -> pa.Table:
    """Suspect plates with their evidence, from the `bronze.*` views attached to `con`."""
    params = {"day_from": day_from, "day_to": day_to, **rules.params()}
    return con.sql(SUSPECTS_SQL, params=params).to_arrow_table().cast(SUSPECTS_SCHEMA)


def cloned_plate_suspects(
    lake: LakeResource, as_of: date, days: int, rules: CloneRules | None = None
) -> pa.Table:
    """Suspects among the reads of the `days` days that end with `as_of`."""
    with connect_lake(lake, INPUTS) as con:
        return detect_clones(con, as_of - timedelta(days=days - 1), as_of, rules or CloneRules())
