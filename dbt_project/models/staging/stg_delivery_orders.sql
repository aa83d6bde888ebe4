-- Generated from contracts/systems/delivery_orders.yaml by `python -m assets.city_model.sources`; do not edit.
-- 外卖配送订单: one row per order_id (a re-sent record keeps its latest load).
select
    "order_id",
    "ordered_at",
    "delivered_at",
    "flat_id",
    "address",
    "customer_phone",
    "items",
    "amount_yuan",
    _source_file,
    _source_line,
    _ingested_at,
    event_date
from {{ source('bronze', 'delivery_orders') }}
qualify row_number() over (
    partition by event_date, "order_id" order by _ingested_at desc, _source_line desc
) = 1
