-- The area hierarchy at its finest grain: one row per grid cell, with its residential/village
-- committee, its street or town (the sub-centre) and the district.
select
    g.cell_code as grid_cell,
    g.committee_code,
    c.name_zh as committee_name,
    c.kind as committee_kind,
    g.street_code,
    s.name_zh as street_name,
    s.kind as street_kind,
    'pudong' as district_code,
    '浦东新区' as district_name,
    g.centroid_lon,
    g.centroid_lat
from {{ source('reference', 'grid_cells') }} as g
join {{ source('reference', 'committees') }} as c using (committee_code)
join {{ source('reference', 'streets') }} as s on s.street_code = g.street_code
