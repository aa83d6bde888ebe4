-- Generated from contracts/systems/meter_readings_power.yaml by `python -m assets.city_model.sources`; do not edit.
-- 智能电表读数: one row per meter_id, read_at (a re-sent record keeps its latest load).
select
    "meter_id",
    "flat_id",
    "read_at",
    "reading",
    "reset_flag",
    "quality_code",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'meter_readings_power') }}
qualify row_number() over (
    partition by event_date, "meter_id", "read_at" order by _ingested_at desc, _source_line desc
) = 1
