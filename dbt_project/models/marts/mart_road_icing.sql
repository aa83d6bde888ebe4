{{ config(materialized='incremental', unique_key='event_date') }}
-- Road icing (道路结冰): per road-temperature sensor and hour, the lowest surface temperature
-- and whether the road may ice (at or below 2 °C) or has frozen (at or below 0 °C).
select
    r.device_id,
    r.site_name,
    r.street_code,
    r.grid_cell,
    r.event_date,
    date_trunc('hour', r.observed_at) as hour,
    min(r.value) as min_surface_temp_c,
    min(r.value) <= 2 as icing_risk,
    min(r.value) <= 0 as frozen
from {{ ref('int_iot_readings') }} as r
where r.is_registered and r.metric = 'surface_temp_c' and {{ days_built('r.event_date') }}
group by all
