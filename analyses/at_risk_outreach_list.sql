-- At-risk outreach list: customers still active but silent for at least
-- at_risk_days (var), most valuable first, with what a retention team needs
-- to prioritise a call or an offer. Compiled by `dbt compile`; run it with
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
        customers.has_marketing_consent,
        customers.last_purchase_date,
        customers.days_since_last_purchase,
        customers.orders,
        customers.net_revenue,
        customers.trailing_12m_net_revenue,
        lifetime_values.average_order_value,
        lifetime_values.purchases_per_year,
        lifetime_values.historical_cltv
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
                trailing_12m_net_revenue desc,
                net_revenue desc,
                customer_key asc
        ) as outreach_priority
    from at_risk
)

select * from final
order by outreach_priority
