with

customers as (
    select * from {{ ref('int_customers_summarised') }}
    where not is_lead
),

purchases as (
    select * from {{ ref('int_orders_netted') }}
    where is_purchase
),

periods as (
    select * from {{ ref('int_periods_spined') }}
),

indexed_periods as (
    select
        period_start,
        is_complete_period,
        cast(row_number() over (order by period_start) as bigint)
            as period_index
    from periods
),

members as (
    select
        customer_id,
        'acquisition' as cohort_type,
        {{ period_start('acquisition_date') }} as cohort_period_start,
        'all' as acquisition_channel,
        {{ period_start('last_purchase_date') }} as last_purchase_period_start
    from customers
    union all
    select
        customer_id,
        'signup' as cohort_type,
        {{ period_start('signup_date') }} as cohort_period_start,
        'all' as acquisition_channel,
        {{ period_start('last_purchase_date') }} as last_purchase_period_start
    from customers
    union all
    select
        customer_id,
        'acquisition_channel' as cohort_type,
        {{ period_start('acquisition_date') }} as cohort_period_start,
        acquisition_channel,
        {{ period_start('last_purchase_date') }} as last_purchase_period_start
    from customers
),

customer_periods as (
    select
        customer_id,
        {{ period_start('order_date') }} as period_start,
        cast(sum(net_revenue) as decimal(18, 2)) as net_revenue
    from purchases
    group by customer_id, {{ period_start('order_date') }}
),

cohorts as (
    select
        cohort_type,
        cohort_period_start,
        acquisition_channel,
        count(*) as cohort_size
    from members
    group by cohort_type, cohort_period_start, acquisition_channel
),

grid as (
    select
        cohorts.cohort_type,
        cohorts.cohort_period_start,
        cohorts.acquisition_channel,
        cohorts.cohort_size,
        later.period_start,
        later.is_complete_period,
        later.period_index - cohort_start.period_index as period_number
    from cohorts
    inner join indexed_periods as cohort_start
        on cohorts.cohort_period_start = cohort_start.period_start
    inner join indexed_periods as later
        on cohorts.cohort_period_start <= later.period_start
),

activity as (
    select
        members.cohort_type,
        members.cohort_period_start,
        members.acquisition_channel,
        customer_periods.period_start,
        count(*) as active_customers,
        cast(sum(customer_periods.net_revenue) as decimal(18, 2))
            as net_revenue
    from members
    inner join customer_periods
        on members.customer_id = customer_periods.customer_id
    group by
        members.cohort_type,
        members.cohort_period_start,
        members.acquisition_channel,
        customer_periods.period_start
),

last_purchases as (
    select
        cohort_type,
        cohort_period_start,
        acquisition_channel,
        last_purchase_period_start as period_start,
        count(*) as customers_last_purchasing
    from members
    group by
        cohort_type,
        cohort_period_start,
        acquisition_channel,
        last_purchase_period_start
),

measured as (
    select
        grid.*,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(activity.net_revenue, 0) as net_revenue,
        -- customers whose last purchase is in this period or a later one
        cast(sum(coalesce(last_purchases.customers_last_purchasing, 0)) over (
            partition by
                grid.cohort_type,
                grid.cohort_period_start,
                grid.acquisition_channel
            order by grid.period_start desc
            rows between unbounded preceding and current row
        ) as bigint) as unbounded_retained_customers
    from grid
    left join activity
        on
            grid.cohort_type = activity.cohort_type
            and grid.cohort_period_start = activity.cohort_period_start
            and grid.acquisition_channel = activity.acquisition_channel
            and grid.period_start = activity.period_start
    left join last_purchases
        on
            grid.cohort_type = last_purchases.cohort_type
            and grid.cohort_period_start = last_purchases.cohort_period_start
            and grid.acquisition_channel = last_purchases.acquisition_channel
            and grid.period_start = last_purchases.period_start
),

with_first_period as (
    select
        *,
        max(case when period_number = 0 then net_revenue end) over (
            partition by cohort_type, cohort_period_start, acquisition_channel
        ) as period_zero_net_revenue
    from measured
),

final as (
    select
        {{ dbt.concat([
            "cohort_type", "'|'",
            "cast(cohort_period_start as " ~ dbt.type_string() ~ ")", "'|'",
            "acquisition_channel", "'|'",
            "cast(period_number as " ~ dbt.type_string() ~ ")"]) }}
            as cohort_period_id,
        cohort_type,
        cohort_period_start,
        acquisition_channel,
        period_number,
        period_start,
        is_complete_period,
        cohort_size,
        active_customers,
        {{ safe_pct('active_customers', 'cohort_size') }} as retention_pct,
        unbounded_retained_customers,
        {{ safe_pct('unbounded_retained_customers', 'cohort_size') }}
            as unbounded_retention_pct,
        net_revenue,
        {{ safe_pct('net_revenue', 'period_zero_net_revenue') }}
            as revenue_retention_pct
    from with_first_period
)

select * from final
