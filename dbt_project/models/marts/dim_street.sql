-- Streets and towns: each is a sub-centre of the city operations centre.
select
    street_code,
    name_zh as street_name,
    name_en as street_name_en,
    kind as street_kind,
    population,
    area_km2,
    centroid_lon,
    centroid_lat
from {{ source('reference', 'streets') }}
