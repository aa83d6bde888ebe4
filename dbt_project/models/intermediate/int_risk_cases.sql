-- Risk cases to dispatch, in the shape of an event: the flats within the inspection capacity and
-- every cloned-plate suspect of the day's scoring. Identified by day and rank, not by flat or
-- plate, so that dispatch stays at L2; the case itself is in risk/ at L3.
select
    'risk.group_rental:' || cast(as_of_date as varchar) || ':' || cast("rank" as varchar)
        as event_id,
    'risk/group_rental_scores' as source_system,
    'risk.group_rental' as event_type,
    cast(as_of_date as timestamp with time zone) + interval 1 day as occurred_at,
    as_of_date as event_date,
    2 as severity,
    street_code,
    committee_code,
    grid_cell
from {{ source('risk', 'group_rental_scores') }}
where in_capacity and {{ days_built('as_of_date') }}

union all

select
    'risk.cloned_plate:' || cast(as_of_date as varchar) || ':'
        || cast(row_number() over (
            partition by as_of_date order by score desc, max_implied_kmh desc, first_conflict_at
        ) as varchar),
    'risk/cloned_plate_suspects',
    'risk.cloned_plate',
    last_conflict_at,
    as_of_date,
    2,
    street_code,
    null,
    null
from {{ source('risk', 'cloned_plate_suspects') }}
where {{ days_built('as_of_date') }}
