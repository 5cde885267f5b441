-- Customer x calendar month, only the months with a purchase: how many, the
-- net revenue, the last purchase date and the repeat-purchase intervals of
-- the month's purchases. The tier, state and KPI models read purchases from
-- here (one row per month instead of one per order). Incremental: a run
-- rewrites every month of the customers whose inputs changed.
{{ config(
    materialized=refresh_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ refresh_slice_delete() }}",
) }}
-- The changed customers are read only in an incremental run (and by the
-- pre-hook), so the dependency is declared here:
-- depends_on: {{ ref('int_customers_fingerprinted') }}

{%- set watermark = incremental_watermark() %}

with

{% if watermark -%}
    changed_customers as (
        {{ changed_customers_sql(watermark) }}
    ),

{% endif -%}
orders as (
    select * from {{ ref('int_orders_netted') }}
    where is_purchase
),

orders_in_scope as (
    select orders.*
    from orders
    {%- if watermark %}
        where orders.customer_id in (
            select changed_customers.customer_id from changed_customers
        )
    {%- endif %}
),

final as (
    select
        customer_id,
        {{ month_start('order_date') }} as month_start,
        count(*) as purchases_in_month,
        cast(sum(net_revenue) as decimal(18, 2)) as net_revenue_in_month,
        max(order_date) as last_purchase_date_in_month,
        coalesce(sum(days_since_previous_purchase), 0)
            as days_since_previous_purchase_total,
        count(days_since_previous_purchase) as purchases_with_previous,
        {{ refreshed_at_literal() }} as refreshed_at
    from orders_in_scope
    group by customer_id, {{ month_start('order_date') }}
)

select * from final
