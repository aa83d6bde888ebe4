-- Each muck truck GPS point with its distance to its permit's approved route (metres, planar
-- approximation at Shanghai's latitude), whether a valid permit covers it, and whether it is
-- loaded without a cover. Routes are WKT LINESTRINGs; DuckDB's spatial extension would have to
-- be downloaded, so the point-to-segment distance is computed here.
with permits as (
    select plate, permit_id, route_buffer_m, valid_from, valid_to,
        regexp_extract_all(route_wkt, '(-?[0-9.]+) (-?[0-9.]+)') as points
    from {{ ref('stg_muck_permits') }}
    where status = 'active'
),

segments as (
    select
        plate, permit_id, route_buffer_m, valid_from, valid_to,
        cast(string_split(points[i], ' ')[1] as double) as x1,
        cast(string_split(points[i], ' ')[2] as double) as y1,
        cast(string_split(points[i + 1], ' ')[1] as double) as x2,
        cast(string_split(points[i + 1], ' ')[2] as double) as y2
    from permits, range(1, len(points)) as r(i)
),

gps as (
    select plate, gps_at, lon, lat, speed_kmh, covered, event_date
    from {{ ref('stg_muck_truck_gps') }}
    where {{ days_built('event_date') }}
),

pairs as (
    -- Each point against each segment of its truck's valid route; t is where along the segment
    -- the nearest point lies (0..1). Metres per degree: 95,200 east-west at 31.2°N, 110,540
    -- north-south.
    select
        g.plate, g.gps_at, g.lon, g.lat, s.route_buffer_m, s.x1, s.y1, s.x2, s.y2,
        coalesce(greatest(0, least(1,
            ((g.lon - s.x1) * (s.x2 - s.x1) * 95200 * 95200
                + (g.lat - s.y1) * (s.y2 - s.y1) * 110540 * 110540)
            / nullif(pow((s.x2 - s.x1) * 95200, 2) + pow((s.y2 - s.y1) * 110540, 2), 0)
        )), 0) as t
    from gps as g
    join segments as s on s.plate = g.plate and g.gps_at between s.valid_from and s.valid_to
),

distances as (
    select
        plate, gps_at,
        min(sqrt(
            pow((lon - (x1 + t * (x2 - x1))) * 95200, 2)
            + pow((lat - (y1 + t * (y2 - y1))) * 110540, 2)
        )) as metres_off_route,
        any_value(route_buffer_m) as route_buffer_m
    from pairs
    group by plate, gps_at
)

select
    g.*,
    d.metres_off_route,
    d.route_buffer_m,
    d.plate is not null as has_permit,
    coalesce(d.metres_off_route > d.route_buffer_m, false) as off_route,
    not coalesce(g.covered, true) as uncovered
from gps as g
left join distances as d using (plate, gps_at)
