-- Where did the churn come from? For each complete period: customers lost,
-- by region, acquisition channel and tier, with each slice's share of all
-- losses and its own churn rate, next to the exit-survey reasons. Compiled
-- by `dbt compile`; run it with `dbt show --select churn_breakdown`.
with

kpis as (
    select * from {{ ref('fct_retention_kpis') }}
),

churn_reasons as (
    select * from {{ ref('fct_churn_reasons') }}
),

totals as (
    select
        period_start,
        lost_customers as total_lost_customers
    from kpis
    where segment_type = 'total' and is_complete_period
),

segment_losses as (
    select
        kpis.period_start,
        kpis.segment_type as breakdown,
        kpis.segment_value as slice,
        kpis.customers_at_start,
        kpis.lost_customers,
        kpis.churn_rate,
        totals.total_lost_customers
    from kpis
    inner join totals
        on kpis.period_start = totals.period_start
    where kpis.segment_type != 'total'
),

reason_losses as (
    select
        period_start,
        'exit_reason' as breakdown,
        reason_category as slice,
        cast(null as bigint) as customers_at_start,
        customers_in_category as lost_customers,
        cast(null as double) as churn_rate,
        churned_customers as total_lost_customers
    from churn_reasons
    where is_complete_period
),

combined as (
    select * from segment_losses
    union all
    select * from reason_losses
),

final as (
    select
        period_start,
        breakdown,
        slice,
        customers_at_start,
        lost_customers,
        churn_rate,
        total_lost_customers,
        {{ safe_pct('lost_customers', 'total_lost_customers') }}
            as share_of_lost_pct
    from combined
)

select * from final
order by period_start desc, breakdown asc, lost_customers desc
