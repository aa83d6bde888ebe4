{{ config(materialized='incremental', unique_key='event_date') }}
-- Construction sites: per site and day, what the video AI saw (workers without helmets, open
-- fire) and the muck-truck cases of the trucks the site's permits name, with a risk level.
with video as (
    select
        v.site_id, v.event_date, any_value(v.street_code) as street_code,
        count(*) filter (where v.event_type = 'video.helmet_missing') as helmet_missing,
        count(*) filter (where v.event_type = 'video.open_fire') as open_fire
    from {{ ref('stg_video_ai_events') }} as v
    where v.site_id is not null and {{ days_built('v.event_date') }}
    group by all
),

muck as (
    select p.site_id, c.case_date as event_date, count(*) as muck_cases
    from {{ ref('mart_muck_truck_case') }} as c
    join {{ ref('stg_muck_permits') }} as p using (plate)
    where {{ days_built('c.case_date') }}
    group by all
)

select
    coalesce(v.site_id, m.site_id) as site_id,
    coalesce(v.event_date, m.event_date) as event_date,
    v.street_code,
    coalesce(v.helmet_missing, 0) as helmet_missing,
    coalesce(v.open_fire, 0) as open_fire,
    coalesce(m.muck_cases, 0) as muck_cases,
    case
        when coalesce(v.open_fire, 0) > 0 then 'high'
        when coalesce(v.helmet_missing, 0) + coalesce(m.muck_cases, 0) >= 3 then 'medium'
        else 'low'
    end as risk_level
from video as v
full join muck as m using (site_id, event_date)
