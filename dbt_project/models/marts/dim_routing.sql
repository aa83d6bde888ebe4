-- Who leads each kind of event, by circumstance: at night (22:00-06:00) some events must be
-- answered faster (moving a car, the noise situations: 5 minutes). Hotels: the culture and
-- tourism bureau leads and the others co-operate; a blocked fire lane: the property company
-- leads with the sub-centre; each of the 13 noise situations has its own owner.
with circumstances as (
    select 'day' as circumstance union all select 'night'
)

select
    t.event_type || ':' || c.circumstance as routing_key,
    t.event_type,
    t.event_name,
    c.circumstance,
    t.dimension,
    t.lead_department,
    t.cooperating_departments,
    t.level,
    case
        when c.circumstance = 'night' and t.night_respond_minutes is not null
            then t.night_respond_minutes
        else t.respond_minutes
    end as respond_minutes,
    t.close_hours
from {{ ref('dim_event_type') }} as t
cross join circumstances as c
