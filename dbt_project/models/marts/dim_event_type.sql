-- The event taxonomy: dimension of the vital signs, lead and co-operating departments, the level
-- that acts, and the handling SLA (a night SLA where one applies, 22:00-06:00).
select
    code as event_type,
    name_zh as event_name,
    dimension,
    lead as lead_department,
    string_split(nullif(cooperating, ''), ',') as cooperating_departments,
    level,
    respond_minutes,
    close_hours,
    night_respond_minutes
from {{ source('reference', 'event_types') }}
