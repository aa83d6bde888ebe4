-- Generated from contracts/systems/muck_permits.yaml by `python -m assets.city_model.sources`; do not edit.
-- 渣土运输核准: one row per permit_id (a re-sent record keeps its latest load).
select
    "permit_id",
    "plate",
    "company_name",
    "site_id",
    "route_wkt",
    "route_buffer_m",
    "valid_from",
    "valid_to",
    "status",
    "updated_at",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'muck_permits') }}
qualify row_number() over (
    partition by event_date, "permit_id" order by _ingested_at desc, _source_line desc
) = 1
