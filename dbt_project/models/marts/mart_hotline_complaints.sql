{{ config(materialized='incremental', unique_key='received_date') }}
-- 12345 hotline: complaints per street/town, day and type, their rank in the street that day,
-- and surges: a day with at least 3 complaints of a type and twice its average of the 7 days
-- before.
with daily as (
    select street_code, received_date, event_type, any_value(event_name) as event_name,
        count(*) as complaints
    from {{ ref('fct_work_order') }}
    where source_system = 'hotline_12345'
    group by all
),

with_history as (
    select
        *,
        avg(complaints) over (
            partition by street_code, event_type order by received_date
            range between interval 7 day preceding and interval 1 day preceding
        ) as previous_7_day_average
    from daily
)

select
    street_code,
    received_date,
    event_type,
    event_name,
    complaints,
    rank() over (partition by street_code, received_date order by complaints desc) as rank_in_street,
    coalesce(previous_7_day_average, 0) as previous_7_day_average,
    complaints >= 3 and complaints >= 2 * coalesce(previous_7_day_average, 0) as is_surge
from with_history
where {{ days_built('received_date') }}
