-- Customer x period (var retention_grain): THE place customer states are
-- decided. P = (s, e]: s = start_boundary_date, e = effective_end.
--   active at t  : acquired on or before t, last purchase >= t - churn days,
--                  and no closure / erasure request on or before t
--   new          : acquired in P
--   reactivated  : acquired on or before s, not active at s, active at e
--   lost         : active at s and not active at e
--   at risk at e : active at e, days since last purchase > at_risk_days
-- Tier segment = the customer's tier at e (the month holding e).
--
-- Sparse: a row exists only where it can count (docs/metric_decisions.md):
-- the customer is active at s or at e, bought, was invited to or answered a
-- survey in P, or P holds the as-of date (every customer's current state).
-- A period in which a customer is inactive at both ends and did nothing adds
-- nothing to S, E, N, R, L or any KPI, so the sums are those of the full
-- customer x period grid while the rows grow with activity, not the calendar.
-- Candidate periods come from purchase "spells": a purchase in period p keeps
-- the customer possibly active up to the period whose s is the purchase date
-- plus churn_inactivity_days, and overlapping spans are merged.
--
-- Incremental: a run rewrites every period of the customers whose inputs
-- changed and every customer's periods from the one holding the previous
-- as-of date on (macros/incremental_slice.sql); for the others the last
-- purchase before that period is carried in from the monthly purchases.
{{ config(
    materialized=refresh_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ refresh_slice_delete('period_start') }}",
) }}
-- The changed customers are read only in an incremental run (and by the
-- pre-hook), so the dependency is declared here:
-- depends_on: {{ ref('int_customers_fingerprinted') }}

{%- set watermark = incremental_watermark('period_start') %}
{%- set slice_start = slice_start_literal(watermark) if watermark else none %}
-- depends_on: {{ ref('int_as_of_dates_resolved') }}

with

customers as (
    select * from {{ ref('int_customers_summarised') }}
    where not is_lead
),

periods as (
    select * from {{ ref('int_periods_spined') }}
),

monthly_purchases as (
    select * from {{ ref('int_customers_months_purchased') }}
),

tiers as (
    select * from {{ ref('int_customers_months_tiered') }}
),

invitations as (
    select * from {{ ref('stg_surveys__invitations') }}
    where not is_test_account
),

responses as (
    select * from {{ ref('stg_surveys__responses') }}
    where not is_test_account
),

{% if watermark -%}
    changed_customers as (
        {{ changed_customers_sql(watermark) }}
    ),

    -- For customers outside the changed set only the slice is computed; the
    -- last purchase before it is carried in.
    carried_in as (
        select
            monthly_purchases.customer_id,
            max(monthly_purchases.last_purchase_date_in_month)
                as last_purchase_before_slice
        from monthly_purchases
        where monthly_purchases.month_start < {{ slice_start }}
        group by monthly_purchases.customer_id
    ),

{% endif -%}
current_period as (
    select max(period_start) as period_start from periods
),

-- A slice needs the purchases that can reach it: those of the changed
-- customers and the periods from churn_inactivity_days before it on.
monthly_in_scope as (
    select monthly_purchases.*
    from monthly_purchases
    {% if watermark -%}
        where
            monthly_purchases.customer_id in (
                select changed_customers.customer_id from changed_customers
            )
            or {{ period_start('monthly_purchases.month_start') }}
            >= {{ period_start(add_days(
                slice_start, -(var('churn_inactivity_days') + 1))) }}
    {%- endif %}
),

period_purchases as (
    select
        customer_id,
        {{ period_start('month_start') }} as period_start,
        max(last_purchase_date_in_month) as last_purchase_in_period,
        cast(sum(purchases_in_month) as bigint) as purchases_in_period,
        cast(sum(net_revenue_in_month) as decimal(18, 2))
            as net_revenue_in_period,
        cast(sum(days_since_previous_purchase_total) as bigint)
            as days_since_previous_purchase_total,
        cast(sum(purchases_with_previous) as bigint)
            as purchases_with_previous
    from monthly_in_scope
    group by customer_id, {{ period_start('month_start') }}
),

-- The last period whose start boundary s can still be within
-- churn_inactivity_days of the period's last purchase.
reaches as (
    select
        period_purchases.customer_id,
        period_purchases.period_start,
        {{ period_start(add_days(
            'period_purchases.last_purchase_in_period',
            var('churn_inactivity_days') + 1)) }} as reach_period_start
    from period_purchases
),

reaches_in_scope as (
    select reaches.*
    from reaches
    {% if watermark -%}
        where
            reaches.customer_id in (
                select changed_customers.customer_id from changed_customers
            )
            or reaches.reach_period_start >= {{ slice_start }}
    {%- endif %}
),

spell_breaks as (
    select
        *,
        case
            when lag(reach_period_start) over (
                partition by customer_id order by period_start
            ) >= period_start then 0
            else 1
        end as starts_spell
    from reaches_in_scope
),

spell_numbers as (
    select
        *,
        sum(starts_spell) over (
            partition by customer_id
            order by period_start
            rows between unbounded preceding and current row
        ) as spell_number
    from spell_breaks
),

spells as (
    select
        customer_id,
        min(period_start) as spell_start,
        max(reach_period_start) as spell_end
    from spell_numbers
    group by customer_id, spell_number
),

survey_periods as (
    select
        invitations.customer_id,
        periods.period_start
    from invitations
    inner join periods
        on
            {{ period_start('invitations.sent_date') }} = periods.period_start
            and invitations.sent_date <= periods.effective_end
    union all
    select
        responses.customer_id,
        periods.period_start
    from responses
    inner join periods
        on
            {{ period_start('responses.response_date') }}
            = periods.period_start
            and responses.response_date <= periods.effective_end
),

candidates as (
    select
        spells.customer_id,
        periods.period_start,
        false as has_survey
    from spells
    inner join periods
        on
            spells.spell_start <= periods.period_start
            and spells.spell_end >= periods.period_start
    union all
    select
        customer_id,
        period_start,
        true as has_survey
    from survey_periods
    union all
    select
        customers.customer_id,
        current_period.period_start,
        false as has_survey
    from customers
    cross join current_period
),

candidate_periods as (
    select
        customer_id,
        period_start,
        {{ dbt.bool_or('has_survey') }} as has_survey_in_period
    from candidates
    group by customer_id, period_start
),

-- The tier at e is joined here, before the windows, not to the finished rows:
-- DuckDB under-estimates the rows of the windowed CTEs and would build its
-- hash table on them, which ran out of memory at memory_limit 4GB with 1M
-- customers (docs/benchmarks.md). Every grid row has its month in the tier
-- model (both run from the acquisition month to the as-of month).
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
        periods.is_complete_period,
        candidate_periods.has_survey_in_period,
        customers.customer_key,
        tiers.tier_name as tier_at_end,
        tiers.trailing_12m_net_revenue as trailing_12m_net_revenue_at_end
    from candidate_periods
    inner join customers
        on candidate_periods.customer_id = customers.customer_id
    inner join periods
        on candidate_periods.period_start = periods.period_start
    inner join tiers
        on
            candidate_periods.customer_id = tiers.customer_id
            and {{ month_start('periods.effective_end') }} = tiers.month_start
    where
        periods.period_start
        >= {{ period_start('customers.acquisition_date') }}
        and {{ when_incremental(watermark,
            'customers.customer_id in (select changed_customers.customer_id'
            ~ ' from changed_customers)'
            ~ ' or periods.period_start >= ' ~ slice_start) }}
),

last_purchases as (
    select
        grid.*,
        coalesce(period_purchases.purchases_in_period, 0)
            as purchases_in_period,
        coalesce(period_purchases.net_revenue_in_period, 0)
            as net_revenue_in_period,
        coalesce(period_purchases.days_since_previous_purchase_total, 0)
            as days_since_previous_purchase_total,
        coalesce(period_purchases.purchases_with_previous, 0)
            as purchases_with_previous,
        max(period_purchases.last_purchase_in_period) over (
            partition by grid.customer_id
            order by grid.period_start
            rows between unbounded preceding and current row
        ) as last_purchase_in_rows_to_end,
        max(period_purchases.last_purchase_in_period) over (
            partition by grid.customer_id
            order by grid.period_start
            rows between unbounded preceding and 1 preceding
        ) as last_purchase_in_rows_to_start
    from grid
    left join period_purchases
        on
            grid.customer_id = period_purchases.customer_id
            and grid.period_start = period_purchases.period_start
),

-- Every period with a purchase is a row, so the running maximum over the rows
-- is the last purchase on or before the boundary (plus, for a row of the
-- slice, the last purchase before it). The join is on customer_id alone (a
-- hash join; one carried_in row per customer) and the case keeps the carried
-- date to the rows of the slice.
boundaries as (
    select
        last_purchases.*,
        {%- if watermark %}
            greatest(
                last_purchases.last_purchase_in_rows_to_end,
                case
                    when last_purchases.period_start >= {{ slice_start }}
                        then carried_in.last_purchase_before_slice
                end
            ) as last_purchase_date_at_end,
            greatest(
                last_purchases.last_purchase_in_rows_to_start,
                case
                    when last_purchases.period_start >= {{ slice_start }}
                        then carried_in.last_purchase_before_slice
                end
            ) as last_purchase_date_at_start
        {%- else %}
            last_purchases.last_purchase_in_rows_to_end
                as last_purchase_date_at_end,
            last_purchases.last_purchase_in_rows_to_start
                as last_purchase_date_at_start
        {%- endif %}
    from last_purchases
    {% if watermark -%}
        left join carried_in
            on last_purchases.customer_id = carried_in.customer_id
    {%- endif %}
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
    from boundaries
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

-- The rows that can count (see the header).
rows_that_count as (
    select transitions.*
    from transitions
    cross join current_period
    where
        transitions.is_active_at_start
        or transitions.is_active_at_end
        or transitions.purchases_in_period > 0
        or transitions.has_survey_in_period
        or transitions.period_start = current_period.period_start
),

final as (
    select
        rows_that_count.customer_id,
        rows_that_count.period_start,
        rows_that_count.period_end,
        rows_that_count.start_boundary_date,
        rows_that_count.effective_end,
        rows_that_count.is_complete_period,
        rows_that_count.region,
        rows_that_count.acquisition_channel,
        rows_that_count.is_referred,
        rows_that_count.acquisition_date,
        rows_that_count.closed_date,
        rows_that_count.last_purchase_date_at_start,
        rows_that_count.last_purchase_date_at_end,
        rows_that_count.days_since_last_purchase_at_end,
        rows_that_count.is_active_at_start,
        rows_that_count.is_active_at_end,
        rows_that_count.is_new,
        rows_that_count.is_new and rows_that_count.is_referred
            as is_referred_new,
        rows_that_count.is_reactivated,
        rows_that_count.is_lost,
        rows_that_count.is_at_risk_at_end,
        rows_that_count.is_closed_at_end,
        -- The one derivation of the status (doc col_customer_state);
        -- dim_customers' current_status reads it.
        case
            when rows_that_count.is_closed_at_end then 'closed'
            when not rows_that_count.is_active_at_end then 'churned'
            when rows_that_count.is_new then 'new'
            when rows_that_count.is_reactivated then 'reactivated'
            when rows_that_count.is_at_risk_at_end then 'at_risk'
            else 'active'
        end as customer_state,
        rows_that_count.tier_at_end,
        rows_that_count.trailing_12m_net_revenue_at_end,
        rows_that_count.purchases_in_period,
        rows_that_count.net_revenue_in_period,
        rows_that_count.days_since_previous_purchase_total,
        rows_that_count.purchases_with_previous,
        -- Hashed once per person (int_customers_summarised), not per row.
        rows_that_count.customer_key,
        {{ hash_pii(dbt.concat([
            "rows_that_count.customer_id", "'|'",
            "cast(rows_that_count.period_start as "
            ~ dbt.type_string() ~ ")"])) }} as customer_period_key,
        {{ refreshed_at_literal() }} as refreshed_at
    from rows_that_count
)

select * from final
