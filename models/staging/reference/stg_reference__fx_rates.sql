-- Daily FX rates, every day a rate is known (docs/metric_decisions.md, FX):
-- the bundled seed fx_rates, extended and overridden by rates supplied in the
-- landing folder (fx_rates/); a rate is carried forward over days without a
-- published one for at most var fx_max_carry_days days. rate_to_reporting =
-- usd_per_unit / the reporting currency's usd_per_unit that day, to 8
-- decimals. USD is the unit of usd_per_unit (1 on every day: USD rows are not
-- read), and the reporting currency converts at exactly 1 without any row.
with

seed_rates as (
    select * from {{ ref('fx_rates') }}
),

supplied_rates as (
    select * from {{ ref('base_fx__rates') }}
    where rejection_reason is null
),

supplied as (
    select
        rate_date,
        currency_code,
        usd_per_unit,
        'supplied' as rate_source
    from supplied_rates
),

seed_only as (
    select
        seed_rates.rate_date,
        upper(seed_rates.currency_code) as currency_code,
        cast(seed_rates.usd_per_unit as decimal(18, 10)) as usd_per_unit,
        'seed' as rate_source
    from seed_rates
    -- A seed rate counts only where no supplied rate of the currency can be
    -- carried to that day (on it or at most fx_max_carry_days before): a
    -- bundled rate never fills a weekend or holiday of the user's series.
    left join supplied_rates
        on
            upper(seed_rates.currency_code) = supplied_rates.currency_code
            and seed_rates.rate_date >= supplied_rates.rate_date
            and {{ dbt.dateadd(
                'day', -(var('fx_max_carry_days') | int), 'seed_rates.rate_date') }}
            <= supplied_rates.rate_date
    where supplied_rates.currency_code is null
),

published as (
    select * from supplied
    where currency_code != 'USD'
    union all
    select * from seed_only
    where currency_code != 'USD'
),

with_next as (
    select
        *,
        lead(rate_date) over (
            partition by currency_code order by rate_date
        ) as next_rate_date
    from published
),

carry_offsets as (
    {% for days in range(var('fx_max_carry_days') | int + 1) -%}
        select {{ days }} as carried_days
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

-- Each published rate holds on its own day and the following days up to the
-- next published rate, at most fx_max_carry_days days.
daily as (
    select
        {{ add_days('with_next.rate_date', 'carry_offsets.carried_days') }}
            as rate_date,
        with_next.currency_code,
        with_next.usd_per_unit,
        with_next.rate_date as published_rate_date,
        carry_offsets.carried_days,
        with_next.rate_source
    from with_next
    cross join carry_offsets
    where
        with_next.next_rate_date is null
        or {{ add_days('with_next.rate_date', 'carry_offsets.carried_days') }}
        < with_next.next_rate_date
),

{% if var('reporting_currency') != 'USD' -%}
    reporting_currency_rates as (
        select
            rate_date,
            usd_per_unit as reporting_usd_per_unit
        from daily
        where currency_code = '{{ var("reporting_currency") }}'
    ),

    -- US dollars: 1 per unit on every day the reporting currency has a rate.
    dollars as (
        select
            rate_date,
            'USD' as currency_code,
            cast(1 as decimal(18, 10)) as usd_per_unit,
            rate_date as published_rate_date,
            0 as carried_days,
            'definition' as rate_source
        from reporting_currency_rates
    ),

    daily_with_dollars as (
        select * from daily
        union all
        select * from dollars
    ),

{% endif -%}
final as (
    select
        daily.rate_date,
        daily.currency_code,
        daily.usd_per_unit,
        daily.published_rate_date,
        daily.carried_days,
        daily.rate_source,
        cast(
            {% if var('reporting_currency') != 'USD' -%}
                daily.usd_per_unit
                / reporting_currency_rates.reporting_usd_per_unit
            {%- else -%}
                daily.usd_per_unit
            {%- endif %}
            as decimal(18, 8)
        ) as rate_to_reporting
    {% if var('reporting_currency') != 'USD' -%}
        from daily_with_dollars as daily
        inner join reporting_currency_rates
            on daily.rate_date = reporting_currency_rates.rate_date
    {%- else -%}
        from daily
    {%- endif %}
)

select * from final
