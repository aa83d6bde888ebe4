-- Generated from contracts/systems/iot_readings.yaml by `python -m assets.city_model.sources`; do not edit.
-- 物联感知读数: one row per device_id, observed_at, metric (a re-sent record keeps its latest load).
select
    "device_id",
    "observed_at",
    "metric",
    "value",
    "alarm",
    "battery_pct",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'iot_readings') }}
qualify row_number() over (
    partition by event_date, "device_id", "observed_at", "metric" order by _ingested_at desc, _source_line desc
) = 1
