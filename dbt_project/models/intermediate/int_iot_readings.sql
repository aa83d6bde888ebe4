-- IoT readings with the device that took them: its type, site and place. `is_registered` is
-- false for a device whose registry row never reached bronze (its place is unknown).
select
    r.*,
    d.device_type,
    d.site_name,
    d.street_code,
    d.grid_cell,
    d.lon,
    d.lat,
    d.device_id is not null as is_registered
from {{ ref('stg_iot_readings') }} as r
left join {{ ref('stg_iot_devices') }} as d using (device_id)
