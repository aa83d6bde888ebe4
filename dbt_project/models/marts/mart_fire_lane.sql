{{ config(materialized='incremental', unique_key='event_date') }}
-- Fire lanes (消防通道): per geomagnetic sensor and day, the readings that found the lane
-- occupied, when first and last, and who must clear it (the property company leads, with the
-- sub-centre) within the 5-minute response.
select
    r.device_id,
    r.site_name,
    r.street_code,
    r.grid_cell,
    r.event_date,
    count(*) as blocked_readings,
    min(r.observed_at) as first_blocked_at,
    max(r.observed_at) as last_blocked_at,
    any_value(t.lead_department) as lead_department,
    any_value(t.cooperating_departments) as cooperating_departments,
    any_value(t.respond_minutes) as respond_minutes
from {{ ref('int_iot_readings') }} as r
join {{ ref('dim_event_type') }} as t on t.event_type = 'iot.fire_lane_blocked'
where r.is_registered and r.metric = 'occupied' and r.alarm and {{ days_built('r.event_date') }}
group by r.device_id, r.site_name, r.street_code, r.grid_cell, r.event_date
