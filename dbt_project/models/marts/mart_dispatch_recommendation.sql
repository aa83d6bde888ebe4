{{ config(materialized='incremental', unique_key='event_date') }}
-- Dispatch recommendations for what no work order carries: alarms (IoT, video AI, 110/119/120)
-- and the risk models' cases (the group-rental inspection list, cloned-plate suspects). For each:
-- the department that leads, those that co-operate, the level that acts, and the time by which
-- it must respond.
with cases as (
    select
        event_id, source_system, event_type, occurred_at, event_date, severity, street_code,
        committee_code, grid_cell,
        case when event_hour >= 22 or event_hour < 6 then 'night' else 'day' end as circumstance
    from {{ ref('fct_city_event') }}
    where source_system not in ('hotline_12345', 'grid_cases')
        and {{ days_built('event_date') }}

    union all

    select
        event_id, source_system, event_type, occurred_at, event_date, severity, street_code,
        committee_code, grid_cell, 'day'
    from {{ ref('int_risk_cases') }}
)

select
    c.event_id,
    c.source_system,
    c.event_type,
    r.event_name,
    c.occurred_at,
    c.event_date,
    c.severity,
    c.street_code,
    c.committee_code,
    c.grid_cell,
    r.lead_department as recommended_department,
    r.cooperating_departments,
    r.level as recommended_level,
    r.respond_minutes,
    c.occurred_at + to_minutes(cast(r.respond_minutes as bigint)) as respond_by
from cases as c
join {{ ref('dim_routing') }} as r
    on r.event_type = c.event_type and r.circumstance = c.circumstance
