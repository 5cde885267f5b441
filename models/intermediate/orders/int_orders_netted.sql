-- One row per order of a real (non-test) customer dated on or before the
-- as-of date, net of the refunds paid on or before the as-of date. The whole
-- order is booked on its order date at that date's FX rate, so a full refund
-- nets to exactly zero. A purchase is a completed order with net amount > 0.
-- Incremental: a run rewrites every order of the customers whose inputs
-- changed (macros/incremental_slice.sql); customer_key is the public key of
-- fct_orders, hashed once per customer when the rows are written.
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

orders as (
    select * from {{ ref('int_orders_accepted') }}
),

refunds as (
    select * from {{ ref('int_refunds_accepted') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

{% if watermark -%}
    changed_customers as (
        {{ changed_customers_sql(watermark) }}
    ),

{% endif -%}
orders_in_scope as (
    select orders.*
    from orders
    cross join as_of
    where
        not orders.is_test_account
        and orders.order_date <= as_of.as_of_date
        and {{ when_incremental(watermark,
            'orders.customer_id in (select changed_customers.customer_id'
            ~ ' from changed_customers)') }}
),

refunds_by_order as (
    select
        refunds.order_id,
        cast(sum(refunds.refund_amount) as decimal(18, 2)) as refunded_amount,
        count(*) as refunds,
        max(refunds.refund_date) as last_refund_date
    from refunds
    cross join as_of
    where
        refunds.refund_date <= as_of.as_of_date
        and {{ when_incremental(watermark,
            'refunds.order_id in (select orders_in_scope.order_id'
            ~ ' from orders_in_scope)') }}
    group by refunds.order_id
),

netted as (
    select
        orders_in_scope.order_id,
        orders_in_scope.customer_id,
        orders_in_scope.ordered_at,
        orders_in_scope.order_date,
        orders_in_scope.order_status,
        orders_in_scope.is_cancelled,
        orders_in_scope.sales_channel,
        orders_in_scope.store_id,
        orders_in_scope.items_count,
        orders_in_scope.currency_code,
        orders_in_scope.sale_amount,
        coalesce(refunds_by_order.refunded_amount, 0) as refunded_amount,
        cast(
            orders_in_scope.sale_amount
            - coalesce(refunds_by_order.refunded_amount, 0)
            as decimal(18, 2)
        ) as net_amount,
        coalesce(refunds_by_order.refunds, 0) as refunds,
        refunds_by_order.last_refund_date,
        orders_in_scope.fx_rate_to_reporting,
        orders_in_scope.sale_amount_reporting as gross_revenue
    from orders_in_scope
    left join refunds_by_order
        on orders_in_scope.order_id = refunds_by_order.order_id
),

classified as (
    select
        *,
        not is_cancelled and net_amount > 0 as is_purchase,
        case
            when is_cancelled then cast(0 as decimal(18, 2))
            else
                cast(
                    round(net_amount * fx_rate_to_reporting, 2) as decimal(
                        18, 2
                    )
                )
        end as net_revenue
    from netted
),

sequenced as (
    select
        *,
        case
            when is_purchase
                then cast(row_number() over (
                    partition by customer_id, is_purchase
                    order by ordered_at, order_id
                ) as bigint)
        end as purchase_sequence_number,
        case
            when is_purchase
                then lag(order_date) over (
                    partition by customer_id, is_purchase
                    order by ordered_at, order_id
                )
        end as previous_purchase_date
    from classified
),

-- The same customers as sequenced, read from orders_in_scope (already stored
-- once for its two readers), so that sequenced's windows stream into final.
order_customers as (
    select distinct customer_id from orders_in_scope
),

-- One HMAC per customer, not per order (it cost more than the netting).
customer_keys as (
    select
        customer_id,
        {{ hash_pii('customer_id') }} as customer_key
    from order_customers
),

final as (
    select
        sequenced.*,
        {{ dbt.datediff('sequenced.previous_purchase_date',
            'sequenced.order_date', 'day') }}
            as days_since_previous_purchase,
        customer_keys.customer_key,
        {{ refreshed_at_literal() }} as refreshed_at
    from sequenced
    left join customer_keys
        on sequenced.customer_id = customer_keys.customer_id
)

select * from final
