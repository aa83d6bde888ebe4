-- Generated from contracts/systems/registered_occupants.yaml by `python -m assets.city_model.sources`; do not edit.
-- 实有人口: one row per person_id (a re-sent record keeps its latest load).
select
    "person_id",
    "flat_id",
    "name",
    "id_number",
    "phone",
    "gender",
    "status",
    "registered_at",
    "updated_at",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'registered_occupants') }}
qualify row_number() over (
    partition by event_date, "person_id" order by _ingested_at desc, _source_line desc
) = 1
