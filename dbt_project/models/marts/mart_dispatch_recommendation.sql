{{ config(materialized='incremental', unique_key='event_date') }}
-- Dispatch recommendations for alarms no work order carries (IoT, video AI, 110/119/120): the
-- department that leads, those that co-operate, the level that acts, and the time by which it
-- must respond. Risk scores (group rentals, cloned plates) join this when they exist.
select
    e.event_id,
    e.source_system,
    e.event_type,
    e.event_name,
    e.occurred_at,
    e.event_date,
    e.severity,
    e.street_code,
    e.committee_code,
    e.grid_cell,
    r.lead_department as recommended_department,
    r.cooperating_departments,
    r.level as recommended_level,
    r.respond_minutes,
    e.occurred_at + to_minutes(cast(r.respond_minutes as bigint)) as respond_by
from {{ ref('fct_city_event') }} as e
join {{ ref('dim_routing') }} as r
    on r.event_type = e.event_type
    and r.circumstance = case
        when e.event_hour >= 22 or e.event_hour < 6 then 'night' else 'day'
    end
where e.source_system not in ('hotline_12345', 'grid_cases')
    and {{ days_built('e.event_date') }}
