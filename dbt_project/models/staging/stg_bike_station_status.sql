-- Generated from contracts/systems/bike_station_status.yaml by `python -m assets.city_model.sources`; do not edit.
-- 共享单车停放点状态: one row per operator, station_id, last_reported (a re-sent record keeps its latest load).
select
    "operator",
    "station_id",
    "num_bikes_available",
    "num_docks_available",
    "is_renting",
    "is_returning",
    "last_reported",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'bike_station_status') }}
qualify row_number() over (
    partition by event_date, "operator", "station_id", "last_reported" order by _ingested_at desc, _source_line desc
) = 1
