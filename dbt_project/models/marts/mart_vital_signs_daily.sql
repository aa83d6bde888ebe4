{{ config(materialized='incremental', unique_key='sign_date') }}
-- 城市体征, daily: every vital sign per street/town and day (counts summed, measures at their
-- worst hour), its status, and the actual population from the register.
with indicators as (
    select * from {{ ref('vital_sign_indicators') }}
),

daily as (
    select
        h.street_code,
        h.sign_date,
        h.indicator,
        case
            when i.kind = 'events' then sum(h.value)
            when i.worse = 'low' then min(h.value)
            else max(h.value)
        end as value
    from {{ ref('mart_vital_signs_hourly') }} as h
    join indicators as i using (indicator)
    where {{ days_built('h.sign_date') }}
    group by h.street_code, h.sign_date, h.indicator, i.kind, i.worse
),

population as (
    select f.street_code, count(*) as value
    from {{ ref('stg_registered_occupants') }} as o
    join {{ ref('stg_flats') }} as f using (flat_id)
    where o.status = 'resident'
    group by f.street_code
),

with_population as (
    select * from daily
    union all
    select p.street_code, d.sign_date, 'actual_population', cast(p.value as double)
    from population as p
    cross join (select distinct sign_date from daily) as d
)

select
    v.street_code,
    v.sign_date,
    v.indicator,
    i.name_zh as indicator_name,
    i.dimension,
    v.value,
    i.unit,
    case
        when v.value is null then 'normal'
        when i.worse = 'high' and v.value >= i.alarm_day then 'alarm'
        when i.worse = 'high' and v.value >= i.attention_day then 'attention'
        when i.worse = 'low' and v.value <= i.alarm_day then 'alarm'
        when i.worse = 'low' and v.value <= i.attention_day then 'attention'
        else 'normal'
    end as status
from with_population as v
join indicators as i using (indicator)
