with

customers as (
    select * from {{ ref('int_customers_valued') }}
),

states as (
    select * from {{ ref('int_customers_periods_stated') }}
),

periods as (
    select * from {{ ref('int_periods_spined') }}
),

-- The annual churn window: from the end of the period 12 months before the
-- last complete period to the end of the last complete period.
churn_window as (
    select
        {{ add_months('max(period_start)', -12) }} as window_start_period,
        max(period_start) as window_end_period
    from periods
    where is_complete_period
),

-- Each customer once per segment (macros/segment_rows.sql; the segments:
-- var value_segments).
members as (
    {{ segment_rows('customers', var('value_segments')) }}
),

annual_churn as (
    select
        members.segment_type,
        members.segment_value,
        sum(case when window_start.is_active_at_end then 1 else 0 end)
            as customers_active_a_year_before,
        sum(
            case
                when
                    window_start.is_active_at_end
                    and not coalesce(window_end.is_active_at_end, false)
                    then 1
                else 0
            end
        ) as customers_lost_in_year
    from members
    cross join churn_window
    inner join states as window_start
        on
            members.customer_id = window_start.customer_id
            and churn_window.window_start_period = window_start.period_start
    -- The state model has no row for a period in which the customer is
    -- dormant (inactive at both ends): no row means not active.
    left join states as window_end
        on
            members.customer_id = window_end.customer_id
            and churn_window.window_end_period = window_end.period_start
    group by members.segment_type, members.segment_value
),

ranked as (
    select
        *,
        row_number() over (
            partition by segment_type, segment_value
            order by net_revenue desc, customer_id asc
        ) as revenue_rank,
        count(*) over (partition by segment_type, segment_value)
            as segment_customers
    from members
),

aggregated as (
    select
        segment_type,
        segment_value,
        count(*) as customers,
        cast(sum(orders) as bigint) as purchases,
        cast(sum(net_revenue) as decimal(18, 2)) as net_revenue,
        -- Sums of exact values, converted once: a sum of doubles depends on the
        -- order the threads add them in, so two builds could differ in the last
        -- digit.
        cast(sum(tenure_days) as {{ type_double() }}) / 365.25 as tenure_years,
        {{ average_double('cac') }} as average_cac,
        sum(
            case
                when revenue_rank <= ceiling(0.1 * segment_customers)
                    then net_revenue
                else 0
            end
        ) as top_10pct_net_revenue,
        sum(
            case
                when revenue_rank <= ceiling(0.2 * segment_customers)
                    then net_revenue
                else 0
            end
        ) as top_20pct_net_revenue
    from ranked
    group by segment_type, segment_value
),

measured as (
    select
        aggregated.*,
        {{ safe_ratio('aggregated.net_revenue', 'aggregated.purchases') }}
            as average_order_value,
        {{ safe_ratio('aggregated.purchases', 'aggregated.tenure_years') }}
            as purchase_frequency_per_year,
        {{ safe_pct('annual_churn.customers_lost_in_year',
            'annual_churn.customers_active_a_year_before') }}
            as annual_churn_rate
    from aggregated
    left join annual_churn
        on
            aggregated.segment_type = annual_churn.segment_type
            and aggregated.segment_value = annual_churn.segment_value
),

final as (
    select
        {{ dbt.concat(["segment_type", "'|'", "segment_value"]) }}
            as segment_id,
        segment_type,
        segment_value,
        customers,
        purchases,
        net_revenue,
        average_order_value,
        purchase_frequency_per_year,
        annual_churn_rate,
        {{ safe_ratio('100', 'annual_churn_rate') }}
            as expected_lifespan_years,
        average_cac,
        average_order_value
        * purchase_frequency_per_year
        * {{ safe_ratio('100', 'annual_churn_rate') }}
        - average_cac as predicted_cltv,
        {{ safe_pct('top_10pct_net_revenue', 'net_revenue') }}
            as top_10pct_revenue_share,
        {{ safe_pct('top_20pct_net_revenue', 'net_revenue') }}
            as top_20pct_revenue_share
    from measured
)

select * from final
