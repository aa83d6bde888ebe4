-- Generated from contracts/systems/vehicle_register.yaml by `python -m assets.city_model.sources`; do not edit.
-- 机动车登记信息: one row per plate (a re-sent record keeps its latest load).
select
    "plate",
    "vehicle_make",
    "vehicle_colour",
    "vehicle_type",
    "owner_id_number",
    "owner_phone",
    "registered_at",
    "updated_at",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'vehicle_register') }}
qualify row_number() over (
    partition by event_date, "plate" order by _ingested_at desc, _source_line desc
) = 1
