{{ config(materialized='incremental', unique_key='event_date') }}
-- Road icing (道路结冰): per road-temperature sensor and hour, the lowest surface temperature
-- and whether the road may ice (at or below 2 °C) or has frozen (at or below 0 °C).
select
    d.device_id,
    d.site_name,
    d.street_code,
    d.grid_cell,
    r.event_date,
    date_trunc('hour', r.observed_at) as hour,
    min(r.value) as min_surface_temp_c,
    min(r.value) <= 2 as icing_risk,
    min(r.value) <= 0 as frozen
from {{ ref('stg_iot_readings') }} as r
join {{ ref('stg_iot_devices') }} as d using (device_id)
where r.metric = 'surface_temp_c' and {{ days_built('r.event_date') }}
group by all
