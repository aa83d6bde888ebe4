-- One score per dimension (safe 安全 / clean 整洁 / orderly 有序) per street/town and day: 100,
-- less 10 for each sign at attention and 25 for each at alarm (never below 0), and the worst
-- status among its signs.
select
    street_code,
    sign_date,
    dimension,
    greatest(
        0,
        100 - 10 * count(*) filter (where status = 'attention')
            - 25 * count(*) filter (where status = 'alarm')
    ) as score,
    count(*) filter (where status = 'attention') as signs_at_attention,
    count(*) filter (where status = 'alarm') as signs_at_alarm,
    case
        when count(*) filter (where status = 'alarm') > 0 then 'alarm'
        when count(*) filter (where status = 'attention') > 0 then 'attention'
        else 'normal'
    end as status
from {{ ref('mart_vital_signs_daily') }}
group by all
