-- Generated from contracts/systems/hotline_12345.yaml by `python -m assets.city_model.sources`; do not edit.
-- 12345市民服务热线工单: one row per service_request_id (a re-sent record keeps its latest load).
select
    "service_request_id",
    "status",
    "service_code",
    "service_name",
    "description",
    "requested_datetime",
    "updated_datetime",
    "address",
    "lat",
    "long",
    "street_code",
    "agency_responsible",
    "contact_name",
    "contact_phone",
    "rating",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'hotline_12345') }}
qualify row_number() over (
    partition by event_date, "service_request_id" order by _ingested_at desc, _source_line desc
) = 1
