{{ config(materialized='incremental', unique_key='balance_date') }}
-- Shared bikes: supply and demand per street/town, operator and hour (bikes and docks free at
-- each station's last report of the hour), stations empty or full, and an imbalance alert
-- addressed to the operator and to the street's sub-centre when a quarter of its stations or
-- more are empty or full.
with reports as (
    select
        operator, station_id, date_trunc('hour', last_reported) as hour,
        arg_max(num_bikes_available, last_reported) as bikes,
        arg_max(num_docks_available, last_reported) as docks
    from {{ ref('stg_bike_station_status') }}
    where {{ days_built('event_date') }}
    group by all
),

placed as (
    select r.*, s.street_code
    from reports as r
    join {{ ref('int_bike_stations') }} as s using (operator, station_id)
)

select
    street_code,
    operator,
    hour,
    cast(hour at time zone 'Asia/Shanghai' as date) as balance_date,
    count(*) as stations,
    cast(sum(bikes) as bigint) as bikes_available,
    cast(sum(docks) as bigint) as docks_available,
    count(*) filter (where bikes = 0) as empty_stations,
    count(*) filter (where docks = 0) as full_stations,
    count(*) filter (where bikes = 0 or docks = 0) >= greatest(1, count(*) / 4.0) as imbalance_alert,
    operator as alert_to_operator,
    street_code as alert_to_sub_centre
from placed
group by street_code, operator, hour
