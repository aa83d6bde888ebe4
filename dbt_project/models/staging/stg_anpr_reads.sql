-- Generated from contracts/systems/anpr_reads.yaml by `python -m assets.city_model.sources`; do not edit.
-- 卡口过车记录: one row per read_id (a re-sent record keeps its latest load).
select
    "read_id",
    "camera_id",
    "read_at",
    "plate",
    "plate_colour",
    "confidence",
    "vehicle_make",
    "vehicle_colour",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'anpr_reads') }}
qualify row_number() over (
    partition by event_date, "read_id" order by _ingested_at desc, _source_line desc
) = 1
