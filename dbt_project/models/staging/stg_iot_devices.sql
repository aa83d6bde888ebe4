-- Generated from contracts/systems/iot_devices.yaml by `python -m assets.city_model.sources`; do not edit.
-- 物联感知设备台账: one row per device_id (a re-sent record keeps its latest load).
select
    "device_id",
    "device_type",
    "street_code",
    "grid_cell",
    "lon",
    "lat",
    "site_name",
    "status",
    "installed_at",
    "updated_at",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'iot_devices') }}
qualify row_number() over (
    partition by event_date, "device_id" order by _ingested_at desc, _source_line desc
) = 1
