-- At-risk outreach list: customers still active but silent for at least
-- at_risk_days (var), ranked by value at risk = predicted 12-month CLV x
-- (1 - P(alive)) - the value the value models expect to lose - with what a
-- retention team needs to prioritise a call or an offer. Where the value
-- models do not run (no dbt Python models: PostgreSQL, Spark) value at risk
-- is NULL and the list falls back to trailing 12-month revenue. Compiled by
-- `dbt compile`; run it with
-- `dbt show --select at_risk_outreach_list --limit 50`.
with

customers as (
    select * from {{ ref('dim_customers') }}
),

lifetime_values as (
    select * from {{ ref('fct_customer_lifetime_value') }}
),

at_risk as (
    select
        customers.customer_key,
        customers.country_code,
        customers.region,
        customers.acquisition_channel,
        customers.current_tier,
        customers.lifecycle_segment,
        customers.rfm_segment,
        customers.has_marketing_consent,
        customers.last_purchase_date,
        customers.days_since_last_purchase,
        customers.orders,
        customers.net_revenue,
        customers.trailing_12m_net_revenue,
        lifetime_values.average_order_value,
        lifetime_values.purchases_per_year,
        lifetime_values.historical_cltv,
        customers.p_alive,
        customers.predicted_clv_12m,
        customers.predicted_clv_12m * (1 - customers.p_alive)
            as value_at_risk_12m
    from customers
    left join lifetime_values
        on customers.customer_key = lifetime_values.customer_key
    where customers.current_status = 'at_risk'
),

final as (
    select
        *,
        row_number() over (
            order by
                value_at_risk_12m desc nulls last,
                trailing_12m_net_revenue desc,
                net_revenue desc,
                customer_key asc
        ) as outreach_priority
    from at_risk
)

select * from final
order by outreach_priority
