-- Customer x calendar month, from the acquisition month to the as-of month:
-- the one place the loyalty tier is decided. Trailing 12-month spend at a
-- month end = net revenue of purchases in that month and the 11 before it
-- (for the as-of month: up to the as-of date). Tier = the highest tier whose
-- lower bound (inclusive) is at or below the trailing spend.
-- Incremental: a run rewrites every month of the customers whose inputs
-- changed, and every customer's months from the one holding the previous
-- as-of date on (macros/incremental_slice.sql); the 12 months before that are
-- read back only to compute the window. The row key of fct_customer_tiers is
-- hashed here, once per written row; customer_key is the person's, hashed
-- once in int_customers_summarised.
{{ config(
    materialized=refresh_materialization(),
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook="{{ refresh_slice_delete('month_start', 'month') }}",
) }}
-- The changed customers are read only in an incremental run (and by the
-- pre-hook), so the dependency is declared here:
-- depends_on: {{ ref('int_customers_fingerprinted') }}

{%- set watermark = incremental_watermark('month_start') %}
{%- set slice_start = slice_start_literal(watermark, 'month') if watermark
    else none %}
-- depends_on: {{ ref('int_as_of_dates_resolved') }}

with

customers as (
    select * from {{ ref('int_customers_summarised') }}
    where not is_lead
),

months as (
    select * from {{ ref('int_months_spined') }}
),

monthly_purchases as (
    select * from {{ ref('int_customers_months_purchased') }}
),

loyalty_tiers as (
    select * from {{ ref('loyalty_tiers') }}
),

{% if watermark -%}
    changed_customers as (
        {{ changed_customers_sql(watermark) }}
    ),

{% endif -%}
tier_bands as (
    select
        tier_name,
        tier_rank,
        min_trailing_12m_spend as lower_bound,
        lead(min_trailing_12m_spend) over (order by tier_rank) as next_bound
    from loyalty_tiers
),

grid as (
    select
        customers.customer_id,
        customers.customer_key,
        months.month_start,
        months.month_end,
        months.effective_end,
        months.is_complete_month
    from customers
    inner join months
        on months.month_start >= {{ month_start('customers.acquisition_date') }}
    {%- if watermark %}
        where
            customers.customer_id in (
                select changed_customers.customer_id from changed_customers
            )
            or months.month_start >= {{ add_months(slice_start, -12) }}
    {%- endif %}
),

trailing_spend as (
    select
        grid.customer_id,
        grid.customer_key,
        grid.month_start,
        grid.month_end,
        grid.effective_end,
        grid.is_complete_month,
        coalesce(monthly_purchases.purchases_in_month, 0)
            as purchases_in_month,
        coalesce(monthly_purchases.net_revenue_in_month, 0)
            as net_revenue_in_month,
        cast(
            sum(coalesce(monthly_purchases.net_revenue_in_month, 0)) over (
                partition by grid.customer_id
                order by grid.month_start
                rows between 11 preceding and current row
            ) as decimal(18, 2)
        ) as trailing_12m_net_revenue,
        -- The previous month's trailing spend, from the same sorted window
        -- (null in the first month): the previous tier follows from it.
        cast(
            sum(coalesce(monthly_purchases.net_revenue_in_month, 0)) over (
                partition by grid.customer_id
                order by grid.month_start
                rows between 12 preceding and 1 preceding
            ) as decimal(18, 2)
        ) as previous_trailing_12m_net_revenue
    from grid
    left join monthly_purchases
        on
            grid.customer_id = monthly_purchases.customer_id
            and grid.month_start = monthly_purchases.month_start
),

tiered as (
    select
        trailing_spend.customer_id,
        trailing_spend.customer_key,
        trailing_spend.month_start,
        trailing_spend.month_end,
        trailing_spend.effective_end,
        trailing_spend.is_complete_month,
        trailing_spend.purchases_in_month,
        trailing_spend.net_revenue_in_month,
        trailing_spend.trailing_12m_net_revenue,
        tier_bands.tier_name,
        tier_bands.tier_rank,
        cast(
            tier_bands.next_bound - trailing_spend.trailing_12m_net_revenue
            as decimal(18, 2)
        ) as spend_to_next_tier,
        previous_bands.tier_name as previous_tier_name,
        previous_bands.tier_rank as previous_tier_rank
    from trailing_spend
    inner join tier_bands
        on
            trailing_spend.trailing_12m_net_revenue >= tier_bands.lower_bound
            and (
                tier_bands.next_bound is null
                or trailing_spend.trailing_12m_net_revenue
                < tier_bands.next_bound
            )
    left join tier_bands as previous_bands
        on
            trailing_spend.previous_trailing_12m_net_revenue
            >= previous_bands.lower_bound
            and (
                previous_bands.next_bound is null
                or trailing_spend.previous_trailing_12m_net_revenue
                < previous_bands.next_bound
            )
),

changes as (
    select
        customer_id,
        customer_key,
        month_start,
        month_end,
        effective_end,
        is_complete_month,
        purchases_in_month,
        net_revenue_in_month,
        trailing_12m_net_revenue,
        tier_name,
        tier_rank,
        spend_to_next_tier,
        previous_tier_name,
        case
            when previous_tier_rank is null then 'new'
            when tier_rank > previous_tier_rank then 'upgrade'
            when tier_rank < previous_tier_rank then 'downgrade'
            else 'same'
        end as tier_change
    from tiered
),

written as (
    select
        *,
        {{ hash_pii(dbt.concat([
            "customer_id", "'|'",
            "cast(month_start as " ~ dbt.type_string() ~ ")"])) }}
            as customer_month_key,
        {{ refreshed_at_literal() }} as refreshed_at
    from changes
    {%- if watermark %}
        where {{ refresh_slice_predicate(
            watermark, 'month_start', 'month', slice_start) }}
    {%- endif %}
),

-- customer_key comes hashed once per person (int_customers_summarised) and
-- rides along from the grid: an HMAC per customer-month cost more than the rest
-- of this model, and a join at the end cost a hash table over every row.
final as (
    select
        customer_id,
        month_start,
        month_end,
        effective_end,
        is_complete_month,
        purchases_in_month,
        net_revenue_in_month,
        trailing_12m_net_revenue,
        tier_name,
        tier_rank,
        spend_to_next_tier,
        previous_tier_name,
        tier_change,
        customer_month_key,
        refreshed_at,
        customer_key
    from written
)

select * from final
