{{ config(materialized='incremental', unique_key='event_date') }}
-- Flood (防汛): per street/town and hour, the heaviest rain and the highest water level its
-- sensors read, and an alert when the water stands at 40 cm or more, or at 20 cm while it rains
-- 20 mm an hour or more.
with readings as (
    select street_code, event_date, date_trunc('hour', observed_at) as hour, metric, value
    from {{ ref('int_iot_readings') }}
    where is_registered and metric in ('rain_mm', 'water_level_cm') and {{ days_built() }}
),

hourly as (
    select
        street_code, event_date, hour,
        max(value) filter (where metric = 'rain_mm') as max_rain_mm,
        max(value) filter (where metric = 'water_level_cm') as max_water_level_cm
    from readings
    where street_code is not null
    group by all
)

select
    *,
    coalesce(max_water_level_cm >= 40, false)
        or coalesce(max_water_level_cm >= 20 and max_rain_mm >= 20, false) as flood_alert
from hourly
