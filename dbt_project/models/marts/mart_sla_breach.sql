-- SLA performance by department, level and day: orders, dispatch and close breaches, and the
-- median times (the managers' 闭环 view).
select
    received_date,
    routed_department,
    routed_level,
    count(*) as orders,
    count(*) filter (where is_closed) as closed,
    count(*) filter (where respond_breached) as respond_breaches,
    count(*) filter (where close_breached) as close_breaches,
    median(minutes_to_dispatch) as median_minutes_to_dispatch,
    median(hours_to_close) as median_hours_to_close
from {{ ref('fct_work_order') }}
group by all
