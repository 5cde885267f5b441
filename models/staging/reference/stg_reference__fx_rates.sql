with

fx_rates as (
    select * from {{ ref('fx_rates') }}
),

reporting_currency_rates as (
    select
        rate_date,
        usd_per_unit as reporting_usd_per_unit
    from fx_rates
    where currency_code = '{{ var("reporting_currency") }}'
),

final as (
    select
        fx_rates.rate_date,
        fx_rates.currency_code,
        fx_rates.usd_per_unit,
        cast(
            fx_rates.usd_per_unit
            / reporting_currency_rates.reporting_usd_per_unit
            as decimal(18, 8)
        ) as rate_to_reporting
    from fx_rates
    inner join reporting_currency_rates
        on fx_rates.rate_date = reporting_currency_rates.rate_date
)

select * from final
