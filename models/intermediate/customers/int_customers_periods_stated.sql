-- Customer x period (var retention_grain), from the acquisition period to the
-- period holding the as-of date: THE place customer states are decided.
-- P = (s, e]: s = start_boundary_date, e = effective_end.
--   active at t  : acquired on or before t, last purchase >= t - churn days,
--                  and no closure / erasure request on or before t
--   new          : acquired in P
--   reactivated  : acquired on or before s, not active at s, active at e
--   lost         : active at s and not active at e
--   at risk at e : active at e, days since last purchase > at_risk_days
-- Tier segment = the customer's tier at e (the month holding e).
with

customers as (
    select * from {{ ref('int_customers_summarised') }}
    where not is_lead
),

periods as (
    select * from {{ ref('int_periods_spined') }}
),

orders as (
    select * from {{ ref('int_orders_netted') }}
    where is_purchase
),

tiers as (
    select * from {{ ref('int_customers_months_tiered') }}
),

period_purchases as (
    select
        customer_id,
        {{ period_start('order_date') }} as period_start,
        max(order_date) as last_purchase_in_period
    from orders
    group by customer_id, {{ period_start('order_date') }}
),

grid as (
    select
        customers.customer_id,
        customers.region,
        customers.acquisition_channel,
        customers.is_referred,
        customers.acquisition_date,
        customers.closed_date,
        periods.period_start,
        periods.period_end,
        periods.start_boundary_date,
        periods.effective_end,
        periods.is_complete_period
    from customers
    inner join periods
        on
            periods.period_start
            >= {{ period_start('customers.acquisition_date') }}
),

last_purchases as (
    select
        grid.*,
        max(period_purchases.last_purchase_in_period) over (
            partition by grid.customer_id
            order by grid.period_start
            rows between unbounded preceding and current row
        ) as last_purchase_date_at_end,
        max(period_purchases.last_purchase_in_period) over (
            partition by grid.customer_id
            order by grid.period_start
            rows between unbounded preceding and 1 preceding
        ) as last_purchase_date_at_start
    from grid
    left join period_purchases
        on
            grid.customer_id = period_purchases.customer_id
            and grid.period_start = period_purchases.period_start
),

activity as (
    select
        *,
        acquisition_date <= start_boundary_date as is_acquired_at_start,
        acquisition_date <= start_boundary_date
        and last_purchase_date_at_start >= {{ add_days(
            'start_boundary_date', -var('churn_inactivity_days')) }}
        and (closed_date is null or closed_date > start_boundary_date)
            as is_active_at_start,
        acquisition_date <= effective_end
        and last_purchase_date_at_end >= {{ add_days(
            'effective_end', -var('churn_inactivity_days')) }}
        and (closed_date is null or closed_date > effective_end)
            as is_active_at_end,
        -- A customer acquired in P whose account is closed (or erased) by e
        -- is never active in P: counting them in N would break
        -- E = S - L + N + R, so they are not new (docs/metric_decisions.md).
        acquisition_date > start_boundary_date
        and coalesce(closed_date > effective_end, true) as is_new,
        coalesce(closed_date <= effective_end, false) as is_closed_at_end,
        {{ dbt.datediff('last_purchase_date_at_end', 'effective_end', 'day') }}
            as days_since_last_purchase_at_end
    from last_purchases
),

transitions as (
    select
        *,
        is_acquired_at_start
        and not is_active_at_start
        and is_active_at_end as is_reactivated,
        is_active_at_start and not is_active_at_end as is_lost,
        is_active_at_end
        and days_since_last_purchase_at_end > {{ var('at_risk_days') }}
            as is_at_risk_at_end
    from activity
),

final as (
    select
        transitions.customer_id,
        transitions.period_start,
        transitions.period_end,
        transitions.start_boundary_date,
        transitions.effective_end,
        transitions.is_complete_period,
        transitions.region,
        transitions.acquisition_channel,
        transitions.is_referred,
        transitions.acquisition_date,
        transitions.closed_date,
        transitions.last_purchase_date_at_start,
        transitions.last_purchase_date_at_end,
        transitions.days_since_last_purchase_at_end,
        transitions.is_active_at_start,
        transitions.is_active_at_end,
        transitions.is_new,
        transitions.is_new and transitions.is_referred as is_referred_new,
        transitions.is_reactivated,
        transitions.is_lost,
        transitions.is_at_risk_at_end,
        transitions.is_closed_at_end,
        case
            when transitions.is_closed_at_end then 'closed'
            when not transitions.is_active_at_end then 'churned'
            when transitions.is_new then 'new'
            when transitions.is_reactivated then 'reactivated'
            when transitions.is_at_risk_at_end then 'at_risk'
            else 'active'
        end as customer_state,
        tiers.tier_name as tier_at_end,
        tiers.trailing_12m_net_revenue as trailing_12m_net_revenue_at_end
    from transitions
    inner join tiers
        on
            transitions.customer_id = tiers.customer_id
            and {{ month_start('transitions.effective_end') }}
            = tiers.month_start
)

select * from final
