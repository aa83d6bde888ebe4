-- Every event the centre handles, from every platform, in one shape (before area resolution).
-- Severity: 1 (most urgent) to 3. IoT readings count only when the device raised an alarm.

with alarms as (
    select
        'alarms_110:' || alarm_id as event_id, 'alarms_110' as source_system,
        alarm_type as event_type, received_at as occurred_at, lon, lat, street_code, grid_cell,
        cast(null as varchar) as committee_code, cast(priority as integer) as severity, status,
        dispatched_at, arrived_at as handled_at,
        case when status = 'closed' then arrived_at end as closed_at, event_date
    from {{ ref('stg_alarms_110') }} where {{ days_built() }}
),

fires as (
    select
        'fire_calls_119:' || call_id, 'fire_calls_119', fire_type, received_at, lon, lat,
        street_code, null, null, 1, status, received_at, arrived_at,
        case when status = 'closed' then extinguished_at end, event_date
    from {{ ref('stg_fire_calls_119') }} where {{ days_built() }}
),

ambulance as (
    select
        'ambulance_120:' || dispatch_id, 'ambulance_120', call_type, called_at, lon, lat,
        street_code, null, null, 1, status, dispatched_at, arrived_at,
        case when status = 'delivered' then arrived_at end, event_date
    from {{ ref('stg_ambulance_120') }} where {{ days_built() }}
),

hotline as (
    select
        'hotline_12345:' || service_request_id, 'hotline_12345', service_code,
        requested_datetime, "long", lat, street_code, null, null, 3, status, null, null,
        case when status = 'closed' then updated_datetime end, event_date
    from {{ ref('stg_hotline_12345') }} where {{ days_built() }}
),

grid as (
    select
        'grid_cases:' || case_id, 'grid_cases', case_type, reported_at, lon, lat, street_code,
        grid_cell, committee_code, 3, status, null, null,
        case when status = 'closed' then updated_at end, event_date
    from {{ ref('stg_grid_cases') }} where {{ days_built() }}
),

iot as (
    select
        'iot_readings:' || r.device_id || ':' || strftime(r.observed_at, '%Y%m%d%H%M%S')
            || ':' || r.metric,
        'iot_readings', m.event_type, r.observed_at, r.lon, r.lat, r.street_code, r.grid_cell,
        null, case when m.event_type in ('iot.smoke_alarm', 'iot.gas_alarm') then 1 else 2 end,
        'open', null, null, null, r.event_date
    from {{ ref('int_iot_readings') }} as r
    join {{ ref('iot_alarm_types') }} as m using (metric)
    where r.alarm and {{ days_built('r.event_date') }}
),

video as (
    select
        'video_ai_events:' || event_id, 'video_ai_events', event_type, detected_at, lon, lat,
        street_code, grid_cell, null,
        case when event_type = 'video.open_fire' then 1 else 2 end, 'open', null, null, null,
        event_date
    from {{ ref('stg_video_ai_events') }} where {{ days_built() }}
),

metro as (
    select
        'metro_faults:' || fault_id, 'metro_faults', 'metro.fault', occurred_at, null, null,
        street_code, null, null, cast(least(greatest(severity, 1), 3) as integer),
        case when recovered_at is null then 'open' else 'closed' end, null, null,
        recovered_at, event_date
    from {{ ref('stg_metro_faults') }} where {{ days_built() }}
)

select * from alarms
union all select * from fires
union all select * from ambulance
union all select * from hotline
union all select * from grid
union all select * from iot
union all select * from video
union all select * from metro
