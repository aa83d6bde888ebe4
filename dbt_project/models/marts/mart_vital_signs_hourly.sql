{{ config(materialized='incremental', unique_key='sign_date') }}
-- 城市体征, hourly: every vital sign for every street/town and hour of the days built, with its
-- status against the indicator's thresholds (normal / attention / alarm). Hours with no event
-- count 0; measures with no reading are null (normal).
with hours as (
    select unnest(generate_series(
        cast(min(hour) as timestamptz), cast(max(hour) as timestamptz), interval 1 hour
    )) as hour
    from {{ ref('int_vital_sign_values') }}
),

grid as (
    select s.street_code, h.hour, i.*
    from {{ ref('dim_street') }} as s
    cross join hours as h
    cross join {{ ref('vital_sign_indicators') }} as i
    where i.indicator <> 'actual_population'
),

valued as (
    select
        g.*,
        case when g.kind = 'events' then coalesce(v.value, 0) else v.value end as value
    from grid as g
    left join {{ ref('int_vital_sign_values') }} as v
        on v.street_code = g.street_code and v.hour = g.hour and v.indicator = g.indicator
)

select
    street_code,
    hour,
    cast(hour at time zone 'Asia/Shanghai' as date) as sign_date,
    indicator,
    name_zh as indicator_name,
    dimension,
    value,
    unit,
    case
        when value is null then 'normal'
        when worse = 'high' and value >= alarm_hour then 'alarm'
        when worse = 'high' and value >= attention_hour then 'attention'
        when worse = 'low' and value <= alarm_hour then 'alarm'
        when worse = 'low' and value <= attention_hour then 'attention'
        else 'normal'
    end as status
from valued
