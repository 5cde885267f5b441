-- CAC per acquisition channel and month: the channel's marketing spend that
-- month (all countries, reporting currency; the referral channel's spend is
-- the referral rewards paid) / customers acquired through it that month,
-- rounded to the cent. NULL (unknown, never 0) when the channel has no spend
-- row that month, e.g. organic.
with

spend as (
    select * from {{ ref('stg_marketing__spend') }}
),

customers as (
    select * from {{ ref('int_customers_summarised') }}
    where not is_lead
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

monthly_spend as (
    select
        spend.spend_month,
        spend.acquisition_channel,
        cast(sum(spend.spend_amount_reporting) as decimal(18, 2))
            as spend_reporting
    from spend
    cross join as_of
    where spend.spend_month <= as_of.as_of_date
    group by spend.spend_month, spend.acquisition_channel
),

monthly_acquisitions as (
    select
        {{ month_start('acquisition_date') }} as acquisition_month,
        acquisition_channel,
        count(*) as customers_acquired
    from customers
    group by {{ month_start('acquisition_date') }}, acquisition_channel
),

final as (
    select
        monthly_acquisitions.acquisition_month,
        monthly_acquisitions.acquisition_channel,
        monthly_acquisitions.customers_acquired,
        monthly_spend.spend_reporting,
        -- Exact half-away-from-zero rounding (DuckDB's decimal division is
        -- a double: 16.685 would round to 16.68).
        cast(
            {{ round_quotient(
                'monthly_spend.spend_reporting',
                'monthly_acquisitions.customers_acquired', 2) }} as decimal(18, 2)
        ) as cac
    from monthly_acquisitions
    left join monthly_spend
        on
            monthly_acquisitions.acquisition_month = monthly_spend.spend_month
            and monthly_acquisitions.acquisition_channel
            = monthly_spend.acquisition_channel
)

select * from final
