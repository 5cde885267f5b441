-- Calendar months from the month of the first order or signup to the month
-- holding the as-of date; months after the last loaded date are never emitted.
with

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

orders as (
    select * from {{ ref('int_orders_accepted') }}
),

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

first_dates as (
    select min(order_date) as first_date from orders
    union all
    select min(signup_date) as first_date from customers
),

digits as (
    select 0 as digit
    union all
    select 1
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
    union all
    select 6
    union all
    select 7
    union all
    select 8
    union all
    select 9
),

month_numbers as (
    select ones.digit + 10 * tens.digit + 100 * hundreds.digit as month_number
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
),

bounds as (
    select
        {{ month_start('min(first_dates.first_date)') }} as first_month_start,
        max(as_of.as_of_date) as as_of_date
    from first_dates
    cross join as_of
),

months as (
    select
        {{ add_months(
            'bounds.first_month_start', 'month_numbers.month_number') }}
            as month_start,
        bounds.as_of_date
    from bounds
    cross join month_numbers
),

final as (
    select
        month_start,
        {{ add_days(add_months('month_start', 1), -1) }} as month_end,
        least({{ add_days(add_months('month_start', 1), -1) }}, as_of_date)
            as effective_end,
        {{ add_days(add_months('month_start', 1), -1) }} <= as_of_date
            as is_complete_month
    from months
    where month_start <= as_of_date
)

select * from final
