-- Each vital sign's value per street/town and hour: counts of matching events, and measures
-- read from the IoT sensors, the bike stations and the population register.
with indicators as (
    select * from {{ ref('vital_sign_indicators') }}
),

event_counts as (
    select
        e.street_code,
        date_trunc('hour', e.occurred_at) as hour,
        i.indicator,
        count(*) as value
    from {{ ref('fct_city_event') }} as e
    join indicators as i
        on i.kind = 'events'
        and (
            (i.matches like 'source:%' and e.source_system = substr(i.matches, 8))
            or (i.matches like 'type:%' and e.event_type = substr(i.matches, 6))
            or (i.matches like 'prefix:%' and starts_with(e.event_type, substr(i.matches, 8)))
        )
    where e.street_code is not null and {{ days_built('e.event_date') }}
    group by all
),

sensor_readings as (
    select street_code, date_trunc('hour', observed_at) as hour, metric, value
    from {{ ref('int_iot_readings') }}
    where street_code is not null and {{ days_built() }}
),

sensor_measures as (
    select
        s.street_code,
        s.hour,
        i.indicator,
        case when i.worse = 'low' then min(s.value) else max(s.value) end as value
    from sensor_readings as s
    join indicators as i on i.kind = 'measure' and i.matches = s.metric
    group by s.street_code, s.hour, i.indicator, i.worse
),

bike_imbalance as (
    -- A station is out of balance in an hour when it had no bike or no free dock to offer.
    select
        st.street_code,
        date_trunc('hour', b.last_reported) as hour,
        'bike_imbalanced_stations' as indicator,
        count(distinct b.operator || ':' || b.station_id) filter (
            where b.num_bikes_available = 0 or b.num_docks_available = 0
        ) as value
    from {{ ref('stg_bike_station_status') }} as b
    join {{ ref('int_bike_stations') }} as st using (operator, station_id)
    where {{ days_built('b.event_date') }}
    group by all
)

select street_code, hour, indicator, cast(value as double) as value from event_counts
union all
select street_code, hour, indicator, cast(value as double) from sensor_measures
union all
select street_code, hour, indicator, cast(value as double) from bike_imbalance
