{{ config(materialized='table') }}

with

source as (
    select * from {{ source('marketing', 'marketing_spend') }}
),

fx_rates as (
    select * from {{ ref('stg_reference__fx_rates') }}
),

currency_minor_units as (
    select * from {{ ref('currency_minor_units') }}
),

-- The reporting currency needs no rate (exactly 1); any other needs FX rows.
known_currencies as (
    select distinct currency_code from fx_rates
    union
    select '{{ var("reporting_currency") }}' as currency_code
),

-- Monthly spend is converted at the mean of the month's daily rates (published
-- or carried forward).
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
        {{ raw_column_list('marketing_spend') }},
        min(_source_file) as source_file,
        count(*) - 1 as collapsed_copies
    from source
    group by
        {{ raw_column_list('marketing_spend') }}
),

typed as (
    select
        {{ has_blank_required_field('marketing_spend', 'collapsed') }}
            as has_blank_required_field,
        nullif(trim(collapsed.spend_month), '') as spend_month_raw,
        {{ parse_date("nullif(trim(collapsed.spend_month), '')") }}
            as spend_month,
        nullif(upper(trim(collapsed.country_code)), '') as country_code,
        nullif(lower(trim(collapsed.acquisition_channel)), '')
            as acquisition_channel,
        nullif(upper(trim(collapsed.currency_code)), '') as currency_code,
        nullif(trim(collapsed.spend_amount), '') as spend_amount_raw,
        {{ parse_money("nullif(trim(collapsed.spend_amount), '')",
            'least(coalesce(currency_minor_units.minor_units, 2), 2)') }}
            as spend_amount,
        collapsed.source_file,
        collapsed.collapsed_copies
    from collapsed
    left join currency_minor_units
        on
            nullif(upper(trim(collapsed.currency_code)), '')
            = currency_minor_units.currency_code
),

row_checked as (
    select
        typed.*,
        case
            when typed.currency_code = '{{ var("reporting_currency") }}'
                then cast(1 as decimal(18, 8))
            else monthly_rates.rate_to_reporting
        end as rate_to_reporting,
        case
            when typed.has_blank_required_field then 'missing_required_field'
            when
                typed.spend_month is null
                or typed.spend_month != {{ month_start('typed.spend_month') }}
                then 'unparseable_date'
            when typed.spend_amount is null then 'invalid_value'
            when typed.spend_amount < 0 then 'negative_amount'
            when known_currencies.currency_code is null
                then 'unknown_currency'
            when
                typed.currency_code != '{{ var("reporting_currency") }}'
                and monthly_rates.rate_to_reporting is null
                then 'missing_fx_rate'
        end as row_rejection_reason
    from typed
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
