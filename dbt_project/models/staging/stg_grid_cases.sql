-- Generated from contracts/systems/grid_cases.yaml by `python -m assets.city_model.sources`; do not edit.
-- 网格巡查案件: one row per case_id (a re-sent record keeps its latest load).
select
    "case_id",
    "reported_at",
    "case_type",
    "inspector_id",
    "street_code",
    "committee_code",
    "grid_cell",
    "lon",
    "lat",
    "description",
    "status",
    "updated_at",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'grid_cases') }}
qualify row_number() over (
    partition by event_date, "case_id" order by _ingested_at desc, _source_line desc
) = 1
