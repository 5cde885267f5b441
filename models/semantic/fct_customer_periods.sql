{{ config(materialized='table') }}

-- Customer x period (var retention_grain): the customer states of
-- int_customers_periods_stated exposed to the semantic layer with a hashed
-- customer key. One row per customer and period, so the period KPIs
-- (S, E, N, R, L) are plain sums of the flags and can be sliced by any
-- customer attribute without double counting.
with

states as (
    select * from {{ ref('int_customers_periods_stated') }}
),

final as (
    select
        {{ hash_pii(dbt.concat([
            "customer_id", "'|'",
            "cast(period_start as " ~ dbt.type_string() ~ ")"])) }}
            as customer_period_key,
        {{ hash_pii('customer_id') }} as customer_key,
        period_start,
        period_end,
        effective_end,
        is_complete_period,
        region,
        acquisition_channel,
        tier_at_end,
        customer_state,
        is_referred,
        acquisition_date,
        is_active_at_start,
        is_active_at_end,
        is_new,
        is_reactivated,
        is_lost,
        is_at_risk_at_end,
        is_referred_new,
        days_since_last_purchase_at_end
    from states
)

select * from final
