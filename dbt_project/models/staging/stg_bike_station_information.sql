-- Generated from contracts/systems/bike_station_information.yaml by `python -m assets.city_model.sources`; do not edit.
-- 共享单车停放点信息: one row per operator, station_id (a re-sent record keeps its latest load).
select
    "operator",
    "station_id",
    "name",
    "lat",
    "lon",
    "capacity",
    "last_updated",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'bike_station_information') }}
qualify row_number() over (
    partition by event_date, "operator", "station_id" order by _ingested_at desc, _source_line desc
) = 1
