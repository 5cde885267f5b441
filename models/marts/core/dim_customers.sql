with

customers as (
    select * from {{ ref('int_customers_summarised') }}
),

states as (
    select * from {{ ref('int_customers_periods_stated') }}
),

periods as (
    select * from {{ ref('int_periods_spined') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

tiers as (
    select * from {{ ref('int_customers_months_tiered') }}
),

predictions as (
    select * from {{ ref('int_customers_predictions_joined') }}
),

current_period as (
    select max(period_start) as period_start from periods
),

current_states as (
    select states.*
    from states
    inner join current_period
        on states.period_start = current_period.period_start
),

-- The month the customer entered their current tier.
tier_entries as (
    select
        customer_id,
        max(month_start) as current_tier_since
    from tiers
    where tier_change != 'same'
    group by customer_id
),

final as (
    select
        customers.customer_key,
        customers.country_code,
        customers.region,
        customers.preferred_language,
        customers.acquisition_channel,
        customers.is_referred,
        customers.has_marketing_consent,
        customers.is_erased,
        customers.signup_date,
        {{ period_start('customers.signup_date') }} as signup_cohort,
        customers.is_lead,
        customers.acquisition_date,
        {{ period_start('customers.acquisition_date') }}
            as acquisition_cohort,
        customers.first_purchase_date,
        customers.last_purchase_date,
        customers.purchases as orders,
        customers.net_revenue,
        {{ dbt.datediff('customers.last_purchase_date', 'as_of.as_of_date',
            'day') }} as days_since_last_purchase,
        case
            when customers.is_lead then 'lead'
            when current_states.tier_at_end = 'vip' then 'vip'
            when customers.purchases = 1 then 'one_time'
            else 'repeat'
        end as lifecycle_segment,
        current_states.tier_at_end as current_tier,
        tier_entries.current_tier_since,
        current_states.trailing_12m_net_revenue_at_end
            as trailing_12m_net_revenue,
        -- The status is derived once, in the state model (doc
        -- col_customer_state); a lead has no period rows.
        case
            when customers.is_lead then 'lead'
            else current_states.customer_state
        end as current_status,
        customers.closed_date,
        as_of.as_of_date,
        predictions.rfm_segment,
        predictions.p_alive,
        predictions.predicted_clv_12m
    from customers
    cross join as_of
    left join current_states
        on customers.customer_id = current_states.customer_id
    left join tier_entries
        on customers.customer_id = tier_entries.customer_id
    left join predictions
        on customers.customer_id = predictions.customer_id
)

select * from final
