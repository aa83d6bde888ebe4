-- Generated from contracts/systems/alarms_110.yaml by `python -m assets.city_model.sources`; do not edit.
-- 110报警: one row per alarm_id (a re-sent record keeps its latest load).
select
    "alarm_id",
    "received_at",
    "alarm_type",
    "priority",
    "caller_phone",
    "caller_name",
    "address",
    "lon",
    "lat",
    "street_code",
    "grid_cell",
    "case_detail",
    "dispatched_at",
    "arrived_at",
    "status",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'alarms_110') }}
qualify row_number() over (
    partition by event_date, "alarm_id" order by _ingested_at desc, _source_line desc
) = 1
