-- Generated from contracts/systems/ambulance_120.yaml by `python -m assets.city_model.sources`; do not edit.
-- 120急救调度: one row per dispatch_id (a re-sent record keeps its latest load).
select
    "dispatch_id",
    "called_at",
    "call_type",
    "patient_age",
    "chief_complaint",
    "address",
    "lon",
    "lat",
    "street_code",
    "caller_phone",
    "vehicle_id",
    "dispatched_at",
    "arrived_at",
    "hospital",
    "status",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'ambulance_120') }}
qualify row_number() over (
    partition by event_date, "dispatch_id" order by _ingested_at desc, _source_line desc
) = 1
