-- Every state a work order passed through, from the hotline (12345) and grid inspection, as the
-- units' systems exported them (bronze *_history tables keep every state, not just the latest).
select
    'hotline_12345:' || service_request_id as order_id,
    'hotline_12345' as source_system,
    service_code as event_type,
    status as state,
    updated_datetime as changed_at,
    requested_datetime as received_at,
    street_code,
    cast(null as varchar) as committee_code,
    cast(null as varchar) as grid_cell,
    agency_responsible as dispatched_to,
    cast(updated_datetime at time zone 'Asia/Shanghai' as date) as change_date
from {{ source('bronze', 'hotline_12345_history') }}

union all

select
    'grid_cases:' || case_id,
    'grid_cases',
    case_type,
    case when status = 'reported' then 'received' else status end,
    updated_at,
    reported_at,
    street_code,
    committee_code,
    grid_cell,
    cast(null as varchar),
    cast(updated_at at time zone 'Asia/Shanghai' as date)
from {{ source('bronze', 'grid_cases_history') }}
