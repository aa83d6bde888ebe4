-- Generated from contracts/systems/video_ai_events.yaml by `python -m assets.city_model.sources`; do not edit.
-- 视频智能识别事件: one row per event_id (a re-sent record keeps its latest load).
select
    "event_id",
    "channel_id",
    "detected_at",
    "event_type",
    "confidence",
    "lon",
    "lat",
    "street_code",
    "grid_cell",
    "site_id",
    "plate",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'video_ai_events') }}
qualify row_number() over (
    partition by event_date, "event_id" order by _ingested_at desc, _source_line desc
) = 1
