{{ config(materialized='incremental', unique_key='order_id') }}
-- The closed loop (闭环): each hotline and grid work order with its lifecycle, the department it
-- is routed to, and its times to dispatch, to handle and to close against the SLA of its type
-- and circumstance. A run rebuilds the orders whose state changed on the days it builds.
with touched as (
    select distinct order_id
    from {{ ref('int_work_order_states') }}
    where {{ days_built('change_date') }}
),

states as (
    select s.*
    from {{ ref('int_work_order_states') }} as s
    join touched using (order_id)
),

orders as (
    select
        order_id,
        any_value(source_system) as source_system,
        arg_max(event_type, changed_at) as event_type,
        min(received_at) as received_at,
        min(changed_at) filter (where state = 'dispatched') as dispatched_at,
        min(changed_at) filter (where state = 'accepted') as accepted_at,
        min(changed_at) filter (where state = 'handled') as handled_at,
        min(changed_at) filter (where state = 'closed') as closed_at,
        arg_max(state, changed_at) as status,
        arg_max(dispatched_to, changed_at) filter (where dispatched_to is not null) as dispatched_to,
        arg_max(street_code, changed_at) as street_code,
        arg_max(committee_code, changed_at) as committee_code,
        arg_max(grid_cell, changed_at) as grid_cell
    from states
    group by order_id
),

timed as (
    select
        *,
        case
            when extract(hour from received_at at time zone 'Asia/Shanghai') >= 22
                or extract(hour from received_at at time zone 'Asia/Shanghai') < 6
                then 'night'
            else 'day'
        end as circumstance,
        date_diff('second', received_at, dispatched_at) / 60.0 as minutes_to_dispatch,
        date_diff('second', dispatched_at, handled_at) / 60.0 as minutes_to_handle,
        date_diff('second', received_at, closed_at) / 3600.0 as hours_to_close
    from orders
)

select
    t.order_id,
    t.source_system,
    t.event_type,
    r.event_name,
    r.dimension,
    t.circumstance,
    t.received_at,
    cast(t.received_at at time zone 'Asia/Shanghai' as date) as received_date,
    t.dispatched_at,
    t.accepted_at,
    t.handled_at,
    t.closed_at,
    t.status,
    t.closed_at is not null as is_closed,
    r.lead_department as routed_department,
    r.level as routed_level,
    r.cooperating_departments,
    t.dispatched_to,
    t.street_code,
    t.committee_code,
    t.grid_cell,
    t.minutes_to_dispatch,
    t.minutes_to_handle,
    t.hours_to_close,
    r.respond_minutes as respond_sla_minutes,
    r.close_hours as close_sla_hours,
    coalesce(t.minutes_to_dispatch > r.respond_minutes, false) as respond_breached,
    coalesce(t.hours_to_close > r.close_hours, false) as close_breached
from timed as t
left join {{ ref('dim_routing') }} as r
    on r.event_type = t.event_type and r.circumstance = t.circumstance
