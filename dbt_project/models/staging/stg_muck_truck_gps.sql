-- Generated from contracts/systems/muck_truck_gps.yaml by `python -m assets.city_model.sources`; do not edit.
-- 渣土车GPS轨迹: one row per plate, gps_at (a re-sent record keeps its latest load).
select
    "plate",
    "gps_at",
    "lon",
    "lat",
    "speed_kmh",
    "covered",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'muck_truck_gps') }}
qualify row_number() over (
    partition by event_date, "plate", "gps_at" order by _ingested_at desc, _source_line desc
) = 1
