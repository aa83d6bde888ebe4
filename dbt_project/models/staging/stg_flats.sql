-- Generated from contracts/systems/flats.yaml by `python -m assets.city_model.sources`; do not edit.
-- 实有房屋: one row per flat_id (a re-sent record keeps its latest load).
select
    "flat_id",
    "address",
    "building_id",
    "building_type",
    "street_code",
    "committee_code",
    "grid_cell",
    "lon",
    "lat",
    "floor_area_m2",
    "registered_occupants",
    "updated_at",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'flats') }}
qualify row_number() over (
    partition by event_date, "flat_id" order by _ingested_at desc, _source_line desc
) = 1
