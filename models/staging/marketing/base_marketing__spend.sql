{{ config(materialized='table') }}

with

source as (
    select * from {{ source('marketing', 'marketing_spend') }}
),

fx_rates as (
    select * from {{ ref('stg_reference__fx_rates') }}
),

country_regions as (
    select * from {{ ref('country_regions') }}
),

known_currencies as (
    select distinct currency_code from fx_rates
),

-- Monthly spend is converted at the mean of the month's daily rates.
monthly_rates as (
    select
        {{ month_start('rate_date') }} as rate_month,
        currency_code,
        cast(avg(rate_to_reporting) as decimal(18, 8)) as rate_to_reporting
    from fx_rates
    group by {{ month_start('rate_date') }}, currency_code
),

collapsed as (
    select
        spend_month,
        country_code,
        acquisition_channel,
        currency_code,
        spend_amount,
        min(_source_file) as source_file,
        count(*) - 1 as collapsed_copies
    from source
    group by
        spend_month,
        country_code,
        acquisition_channel,
        currency_code,
        spend_amount
),

typed as (
    select
        nullif(trim(spend_month), '') as spend_month_raw,
        {{ cast_or_null("trim(spend_month)", 'date') }} as spend_month,
        nullif(upper(trim(country_code)), '') as country_code,
        nullif(lower(trim(acquisition_channel)), '') as acquisition_channel,
        nullif(upper(trim(currency_code)), '') as currency_code,
        nullif(trim(spend_amount), '') as spend_amount_raw,
        {{ cast_or_null('trim(spend_amount)', 'decimal(18, 2)') }}
            as spend_amount,
        source_file,
        collapsed_copies
    from collapsed
),

row_checked as (
    select
        typed.*,
        monthly_rates.rate_to_reporting,
        case
            when
                typed.spend_month_raw is null
                or typed.country_code is null
                or typed.acquisition_channel is null
                or typed.currency_code is null
                or typed.spend_amount_raw is null
                then 'missing_required_field'
            when
                typed.spend_month is null
                or typed.spend_month != {{ month_start('typed.spend_month') }}
                then 'unparseable_date'
            when
                typed.spend_amount is null
                or country_regions.country_code is null
                or typed.acquisition_channel not in (
                    'paid_search', 'social', 'email', 'organic',
                    'referral', 'partner', 'store'
                )
                then 'invalid_value'
            when typed.spend_amount < 0 then 'negative_amount'
            when known_currencies.currency_code is null
                then 'unknown_currency'
            when monthly_rates.rate_to_reporting is null
                then 'missing_fx_rate'
        end as row_rejection_reason
    from typed
    left join country_regions
        on typed.country_code = country_regions.country_code
    left join known_currencies
        on typed.currency_code = known_currencies.currency_code
    left join monthly_rates
        on
            typed.currency_code = monthly_rates.currency_code
            and typed.spend_month = monthly_rates.rate_month
),

final as (
    select
        *,
        round(spend_amount * rate_to_reporting, 2) as spend_amount_reporting,
        coalesce(
            row_rejection_reason,
            case
                when row_number() over (
                    partition by
                        row_rejection_reason is null,
                        spend_month,
                        country_code,
                        acquisition_channel
                    order by source_file, currency_code, spend_amount
                ) > 1 then 'duplicate'
            end
        ) as rejection_reason
    from row_checked
)

select * from final
