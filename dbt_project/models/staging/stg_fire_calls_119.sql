-- Generated from contracts/systems/fire_calls_119.yaml by `python -m assets.city_model.sources`; do not edit.
-- 119火警: one row per call_id (a re-sent record keeps its latest load).
select
    "call_id",
    "received_at",
    "fire_type",
    "address",
    "lon",
    "lat",
    "street_code",
    "caller_phone",
    "trucks_dispatched",
    "arrived_at",
    "extinguished_at",
    "casualties",
    "status",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'fire_calls_119') }}
qualify row_number() over (
    partition by event_date, "call_id" order by _ingested_at desc, _source_line desc
) = 1
