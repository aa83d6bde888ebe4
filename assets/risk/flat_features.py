"""Group-rental features: one row per flat over a window of days, computed in DuckDB.

What a flat uses is set against what its register explains and against its peers (flats of the
same building type in the same residential committee; the street, then the district, where a
committee has too few such flats). Meter use comes from the differences of cumulative readings:
a flagged reset (meter replaced) counts its reading as the use since the replacement, an
unflagged drop is dropped, and a missing reading only widens an interval, since use is taken per
hour covered.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pyarrow as pa

from assets.delta_scan import connect_lake
from assets.lake import LakeResource

INPUTS = [
    ("bronze", "flats"),
    ("bronze", "meter_readings_power"),
    ("bronze", "meter_readings_water"),
    ("bronze", "meter_readings_gas"),
    ("bronze", "door_access_events"),
    ("bronze", "delivery_orders"),
    ("bronze", "hotline_12345"),
    ("bronze", "group_rental_inspections"),
]
UTILITIES = ("power", "water", "gas")
COMPLAINT_CODE = "hotline.group_rental_complaint"
MIN_PEERS = 20  # fewer flats than this in a committee: compare with the street, then the district
SHANGHAI = "Asia/Shanghai"

METER_SQL = """
readings as (
    {unions}
),
intervals as (
    select
        utility, flat_id,
        hour(read_at at time zone '{tz}') between 1 and 6 as night,
        dayofweek(read_at at time zone '{tz}') in (0, 6) as weekend,
        read_at >= $mid as late,
        epoch(read_at - lag(read_at) over w) / 3600 as hours,
        case
            when reset_flag then reading
            when reading >= lag(reading) over w then reading - lag(reading) over w
        end as used
    from (select distinct on (utility, meter_id, read_at) * from readings)
    window w as (partition by utility, meter_id order by read_at)
),
usage as (
    select
        flat_id,
        {per_utility},
        sum(used) filter (utility = 'power' and night)
            / nullif(sum(used) filter (utility = 'power'), 0) as night_share,
        avg(used / hours) filter (utility = 'power' and weekend)
            / nullif(avg(used / hours) filter (utility = 'power' and not weekend), 0)
            as weekend_ratio,
        avg(used / hours) filter (utility = 'power' and late)
            / nullif(avg(used / hours) filter (utility = 'power' and not late), 0) as growth
    from intervals
    where hours is not null and hours <= 48
    group by flat_id
)"""

FEATURES_SQL = """
with
{meters},
flats as (select * from bronze.flats),
days as (
    select greatest(count(distinct event_date), 1) as n
    from bronze.door_access_events where event_date between $day_from and $day_to
),
door as (
    select flat_id, count(distinct card_id) as distinct_cards,
        count(distinct event_id) filter (direction = 'in') as entries
    from bronze.door_access_events
    where event_date between $day_from and $day_to
    group by flat_id
),
deliveries as (
    select coalesce(o.flat_id, f.flat_id) as flat_id, count(distinct o.order_id) as deliveries
    from bronze.delivery_orders as o
    left join flats as f on o.flat_id is null and f.address = o.address
    where o.event_date between $day_from and $day_to
    group by 1
),
complaints as (
    select f.flat_id, count(distinct h.service_request_id) as complaints
    from bronze.hotline_12345 as h
    join flats as f on f.address = h.address
    where h.service_code = '{complaint}' and h.requested_datetime < $window_end
    group by 1
),
inspections as (
    select flat_id, outcome as last_outcome, inspected_at as last_inspected_at
    from bronze.group_rental_inspections
    where inspected_at < $window_end
    qualify row_number() over (partition by flat_id order by inspected_at desc) = 1
),
flat as (
    select
        f.flat_id, f.street_code, f.committee_code, f.grid_cell, f.building_type,
        f.registered_occupants as registered,
        greatest(f.registered_occupants, 1) as per,
        u.power_per_day, u.water_per_day, u.gas_per_day,
        u.power_per_day / greatest(f.registered_occupants, 1) as power_pp,
        u.water_per_day / greatest(f.registered_occupants, 1) as water_pp,
        u.gas_per_day / greatest(f.registered_occupants, 1) as gas_pp,
        u.night_share, u.weekend_ratio, u.growth,
        coalesce(d.distinct_cards, 0) as distinct_cards,
        coalesce(d.entries, 0) / days.n / greatest(f.registered_occupants, 1) as entries_pp,
        coalesce(o.deliveries, 0) / days.n / greatest(f.registered_occupants, 1)
            as deliveries_pp,
        coalesce(c.complaints, 0) as complaints,
        i.last_outcome, i.last_inspected_at
    from flats as f
    cross join days
    left join usage as u using (flat_id)
    left join door as d using (flat_id)
    left join deliveries as o using (flat_id)
    left join complaints as c using (flat_id)
    left join inspections as i using (flat_id)
)
{peers}
select
    flat.*,
    {peer_ratios}
from flat
left join committee_peers as c using (committee_code, building_type)
left join street_peers as s using (street_code, building_type)
left join district_peers as d using (building_type)
order by flat_id
"""

PEER_MEASURES = ("power_pp", "water_pp", "gas_pp", "night_share", "entries_pp", "deliveries_pp")


def peer_tables() -> str:
    """Per peer group (committee, street, district) and measure: how many flats report it and
    their median. Grouped once, then joined: far less memory than windowed medians."""
    stats = ", ".join(f"count({m}) as n_{m}, median({m}) as m_{m}" for m in PEER_MEASURES)
    groups = {
        "committee_peers": "committee_code, building_type",
        "street_peers": "street_code, building_type",
        "district_peers": "building_type",
    }
    return "\n".join(
        f", {name} as (select {keys}, {stats} from flat group by {keys})"
        for name, keys in groups.items()
    )


def peer_median(measure: str) -> str:
    """The median of `measure` among the flat's peers: the committee, else street, else district."""
    return (
        f"case when c.n_{measure} >= {MIN_PEERS} then c.m_{measure} "
        f"when s.n_{measure} >= {MIN_PEERS} then s.m_{measure} else d.m_{measure} end"
    )


def features_sql() -> str:
    """The feature query; parameters $day_from, $day_to, $mid and $window_end."""
    unions = "\n    union all\n    ".join(
        f"select '{u}' as utility, flat_id, meter_id, read_at, reading, reset_flag "
        f"from bronze.meter_readings_{u} where event_date between $day_from and $day_to"
        for u in UTILITIES
    )
    per_utility = ",\n        ".join(
        f"sum(used) filter (utility = '{u}') / nullif(sum(hours) filter (utility = '{u}' "
        f"and used is not null), 0) * 24 as {u}_per_day"
        for u in UTILITIES
    )
    meters = METER_SQL.format(unions=unions, per_utility=per_utility, tz=SHANGHAI)
    peer_ratios = ",\n    ".join(f"{peer_median(m)} as {m}_peer" for m in PEER_MEASURES)
    return FEATURES_SQL.format(
        meters=meters, complaint=COMPLAINT_CODE, peers=peer_tables(), peer_ratios=peer_ratios
    )


def window_params(as_of: date, days: int) -> dict[str, object]:
    """Query parameters of the `days`-day window that ends with `as_of` (Shanghai dates)."""
    day_from = as_of - timedelta(days=days - 1)
    mid = day_from + timedelta(days=days // 2) if days > 1 else day_from
    return {
        "day_from": day_from,
        "day_to": as_of,
        "mid": f"{mid.isoformat()} 00:00:00+08:00",
        "window_end": f"{(as_of + timedelta(days=1)).isoformat()} 00:00:00+08:00",
    }


def flat_features(lake: LakeResource, as_of: date, days: int) -> pa.Table:
    """Every flat's features over the `days` days that end with `as_of`."""
    with connect_lake(lake, INPUTS) as con:
        return features_in(con, as_of, days)


def features_in(con: duckdb.DuckDBPyConnection, as_of: date, days: int) -> pa.Table:
    """The features, from the `bronze.*` tables or views of `con`."""
    return con.sql(features_sql(), params=window_params(as_of, days)).to_arrow_table()
