-- Generated from contracts/systems/door_access_events.yaml by `python -m assets.city_model.sources`; do not edit.
-- 小区门禁通行记录: one row per event_id (a re-sent record keeps its latest load).
select
    "event_id",
    "event_at",
    "flat_id",
    "card_id",
    "gate_id",
    "direction",
    "method",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'door_access_events') }}
qualify row_number() over (
    partition by event_date, "event_id" order by _ingested_at desc, _source_line desc
) = 1
