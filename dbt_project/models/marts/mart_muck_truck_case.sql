{{ config(materialized='incremental', unique_key='case_date') }}
-- Muck trucks (渣土车): one case per truck, day and violation - no valid permit, off the
-- approved route, loaded without a cover (from the truck's cover sensor or the video AI) -
-- pushed to every department concerned at once (一案多查): the lead and the co-operating
-- departments of the violation's event type. A GPS violation needs 3 points or more: one stray
-- fix far from the route is noise, not a detour.
with positions as (
    select * from {{ ref('int_muck_truck_positions') }}
),

violations as (
    select plate, event_date, 'muck.no_permit' as event_type, gps_at, lon, lat
    from positions where not has_permit
    union all
    select plate, event_date, 'muck.off_route', gps_at, lon, lat from positions where off_route
    union all
    select plate, event_date, 'video.muck_truck_uncovered', gps_at, lon, lat
    from positions where uncovered
    union all
    select plate, event_date, event_type, detected_at, lon, lat
    from {{ ref('stg_video_ai_events') }}
    where event_type = 'video.muck_truck_uncovered' and plate is not null
        and {{ days_built('event_date') }}
)

select
    v.plate || ':' || cast(v.event_date as varchar) || ':' || v.event_type as case_id,
    v.plate,
    v.event_date as case_date,
    v.event_type,
    any_value(t.event_name) as event_name,
    min(v.gps_at) as first_seen_at,
    max(v.gps_at) as last_seen_at,
    count(*) as points,
    arg_min(v.lon, v.gps_at) as first_lon,
    arg_min(v.lat, v.gps_at) as first_lat,
    any_value(t.lead_department) as lead_department,
    list_distinct(list_prepend(any_value(t.lead_department), coalesce(any_value(t.cooperating_departments), [])))
        as departments_notified
from violations as v
left join {{ ref('dim_event_type') }} as t using (event_type)
group by v.plate, v.event_date, v.event_type
having count(*) >= 3 or v.event_type = 'video.muck_truck_uncovered'  -- a camera sighting counts
