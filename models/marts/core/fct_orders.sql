{{ config(materialized='table') }}

with

orders as (
    select * from {{ ref('int_orders_netted') }}
),

final as (
    select
        order_id,
        {{ hash_pii('customer_id') }} as customer_key,
        ordered_at,
        order_date,
        {{ period_start('order_date') }} as order_period_start,
        order_status,
        is_cancelled,
        sales_channel,
        store_id,
        items_count,
        currency_code,
        sale_amount,
        refunded_amount,
        net_amount,
        refunds,
        fx_rate_to_reporting,
        gross_revenue,
        net_revenue,
        is_purchase,
        purchase_sequence_number,
        coalesce(purchase_sequence_number = 1, false)
            as is_new_customer_purchase,
        coalesce(purchase_sequence_number > 1, false) as is_repeat_purchase,
        previous_purchase_date,
        days_since_previous_purchase
    from orders
)

select * from final
