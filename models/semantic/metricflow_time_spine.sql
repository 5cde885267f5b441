-- One row per day: the time spine MetricFlow needs to aggregate metrics by
-- day, week, month, quarter or year (metric_time). It covers every date the
-- warehouse can hold with a wide margin; days with no data are harmless.
with

days as (
    {{ dbt.date_spine(
        'day',
        "cast('2000-01-01' as date)",
        "cast('2041-01-01' as date)") }}
),

final as (
    select cast(date_day as date) as date_day
    from days
)

select * from final
