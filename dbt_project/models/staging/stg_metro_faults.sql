-- Generated from contracts/systems/metro_faults.yaml by `python -m assets.city_model.sources`; do not edit.
-- 地铁运营故障: one row per fault_id (a re-sent record keeps its latest load).
select
    "fault_id",
    "line",
    "station_name",
    "street_code",
    "occurred_at",
    "recovered_at",
    "fault_type",
    "severity",
    "delay_minutes",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'metro_faults') }}
qualify row_number() over (
    partition by event_date, "fault_id" order by _ingested_at desc, _source_line desc
) = 1
