-- Generated from contracts/systems/anpr_cameras.yaml by `python -m assets.city_model.sources`; do not edit.
-- 卡口电子警察点位: one row per camera_id (a re-sent record keeps its latest load).
select
    "camera_id",
    "road_name",
    "lon",
    "lat",
    "street_code",
    "direction",
    "status",
    "updated_at",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'anpr_cameras') }}
qualify row_number() over (
    partition by event_date, "camera_id" order by _ingested_at desc, _source_line desc
) = 1
