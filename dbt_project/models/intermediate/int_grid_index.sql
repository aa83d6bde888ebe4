-- Grid cells by their position in the regular grid, so that a point finds its cell by arithmetic
-- (an equi-join) rather than by a range join over every cell.
with grid as (
    select
        min(lon_min) as lon0,
        min(lat_min) as lat0,
        max(lon_max - lon_min) as dlon,
        max(lat_max - lat_min) as dlat
    from {{ source('reference', 'grid_cells') }}
)

select
    c.cell_code as grid_cell,
    cast(round((c.lon_min - grid.lon0) / grid.dlon) as bigint) as ix,
    cast(round((c.lat_min - grid.lat0) / grid.dlat) as bigint) as iy,
    grid.lon0,
    grid.lat0,
    grid.dlon,
    grid.dlat
from {{ source('reference', 'grid_cells') }} as c, grid
