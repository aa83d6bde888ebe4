-- Generated from contracts/systems/group_rental_inspections.yaml by `python -m assets.city_model.sources`; do not edit.
-- 群租整治检查结果: one row per inspection_id (a re-sent record keeps its latest load).
select
    "inspection_id",
    "flat_id",
    "inspected_at",
    "trigger",
    "outcome",
    "occupants_found",
    "inspector_id",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'group_rental_inspections') }}
qualify row_number() over (
    partition by event_date, "inspection_id" order by _ingested_at desc, _source_line desc
) = 1
