-- The one date every calculation is pinned to: var as_of_date (or the
-- environment variable RETENTION_AS_OF_DATE, macro as_of_date_setting) when
-- set, else the latest date of any clean transaction (sale or refund). Beside
-- it, what the as-of guard (test as_of_date_is_plausible) checks it against:
-- the clean transaction date before the last one, and the last day a file
-- landed.
{%- set pinned_date = as_of_date_setting() %}

with

orders as (
    select * from {{ ref('int_orders_accepted') }}
),

refunds as (
    select * from {{ ref('int_refunds_accepted') }}
),

landed_files as (
    select * from {{ ref('base_landing__files') }}
),

transaction_dates as (
    select order_date as transaction_date from orders
    union
    select refund_date as transaction_date from refunds
),

ranked_dates as (
    select
        transaction_date,
        row_number() over (order by transaction_date desc) as recency_rank
    from transaction_dates
),

loaded as (
    select
        max(case when recency_rank = 1 then transaction_date end)
            as last_loaded_date,
        max(case when recency_rank = 2 then transaction_date end)
            as previous_loaded_date
    from ranked_dates
),

landed as (
    select max(landed_on) as last_landed_date from landed_files
),

final as (
    select
        {% if pinned_date -%}
            cast('{{ pinned_date }}' as date)
        {%- else -%}
            loaded.last_loaded_date
        {%- endif %} as as_of_date,
        {{ 'true' if pinned_date else 'false' }} as is_as_of_date_pinned,
        loaded.last_loaded_date,
        loaded.previous_loaded_date,
        landed.last_landed_date
    from loaded
    cross join landed
)

select * from final
