-- Generated from contracts/systems/bike_vehicle_status.yaml by `python -m assets.city_model.sources`; do not edit.
-- 共享单车车辆状态: one row per operator, vehicle_id, last_updated (a re-sent record keeps its latest load).
select
    "operator",
    "vehicle_id",
    "lat",
    "lon",
    "is_reserved",
    "is_disabled",
    "last_updated",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'bike_vehicle_status') }}
qualify row_number() over (
    partition by event_date, "operator", "vehicle_id", "last_updated" order by _ingested_at desc, _source_line desc
) = 1
