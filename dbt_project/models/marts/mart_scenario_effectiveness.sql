-- Scenario effectiveness ranking: per scenario, the alerts raised, how many were dispatched and
-- closed, the median hours to close and the closure rate; ranked by closure rate, then speed.
-- Scenarios whose alarms report no lifecycle back (sensors) have no rate and rank last.
with events as (
    select
        e.event_id, e.event_type, e.occurred_at,
        coalesce(w.dispatched_at, e.dispatched_at) as dispatched_at,
        coalesce(w.closed_at, e.closed_at) as closed_at
    from {{ ref('fct_city_event') }} as e
    left join {{ ref('fct_work_order') }} as w on w.order_id = e.event_id
),

matched as (
    select distinct s.scenario, s.scenario_name, e.*
    from events as e
    join {{ ref('scenario_event_types') }} as s on starts_with(e.event_type, s.event_type_prefix)
),

scored as (
    select
        scenario,
        any_value(scenario_name) as scenario_name,
        count(*) as alerts,
        count(dispatched_at) as dispatched,
        count(closed_at) as closed,
        median(date_diff('second', occurred_at, closed_at) / 3600.0) as median_hours_to_close,
        -- no lifecycle reported back (sensor alarms): a rate would read as failure, so none
        case when count(dispatched_at) + count(closed_at) > 0 then count(closed_at) / count(*) end
            as closure_rate
    from matched
    group by scenario
)

select
    *,
    rank() over (
        order by closure_rate desc nulls last, median_hours_to_close asc nulls last
    ) as rank
from scored
