{{ config(materialized='table') }}

with

tiers as (
    select * from {{ ref('int_customers_months_tiered') }}
),

final as (
    select
        {{ hash_pii(dbt.concat([
            "customer_id", "'|'",
            "cast(month_start as " ~ dbt.type_string() ~ ")"])) }}
            as customer_month_key,
        {{ hash_pii('customer_id') }} as customer_key,
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
        tier_change
    from tiers
)

select * from final
