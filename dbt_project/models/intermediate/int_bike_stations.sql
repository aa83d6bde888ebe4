-- Shared-bike stations placed in their grid cell and street/town (by their coordinates).
select s.operator, s.station_id, a.grid_cell, a.street_code
from {{ ref('stg_bike_station_information') }} as s
join {{ ref('int_grid_index') }} as g
    on g.ix = cast(floor((s.lon - g.lon0) / g.dlon) as bigint)
    and g.iy = cast(floor((s.lat - g.lat0) / g.dlat) as bigint)
join {{ ref('dim_area') }} as a using (grid_cell)
