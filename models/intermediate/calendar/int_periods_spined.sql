-- Reporting periods (var retention_grain) built from the month calendar:
-- P = (s, e] with s the day before period_start and e = effective_end (the
-- period's last day, or the as-of date for the period in progress).
with

months as (
    select * from {{ ref('int_months_spined') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

periods as (
    select distinct {{ period_start('month_start') }} as period_start
    from months
),

final as (
    select
        periods.period_start,
        {{ period_end('periods.period_start') }} as period_end,
        {{ add_days('periods.period_start', -1) }} as start_boundary_date,
        least({{ period_end('periods.period_start') }}, as_of.as_of_date)
            as effective_end,
        {{ period_end('periods.period_start') }} <= as_of.as_of_date
            as is_complete_period
    from periods
    cross join as_of
)

select * from final
