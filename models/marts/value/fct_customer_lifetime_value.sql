with

customers as (
    select * from {{ ref('int_customers_valued') }}
),

final as (
    select
        {{ hash_pii('customer_id') }} as customer_key,
        acquisition_channel,
        region,
        country_code,
        acquisition_date,
        acquisition_cohort,
        first_purchase_date,
        last_purchase_date,
        orders,
        net_revenue,
        {{ safe_ratio('net_revenue', 'orders') }} as average_order_value,
        lifespan_days,
        tenure_days,
        {{ safe_ratio('orders', 'tenure_days', 365.25) }}
            as purchases_per_year,
        cac,
        cast(net_revenue - cac as decimal(18, 2)) as historical_cltv
    from customers
)

select * from final
