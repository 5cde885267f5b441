-- The one date every calculation is pinned to: var as_of_date (or the
-- environment variable RETENTION_AS_OF_DATE, macro as_of_date_setting) when
-- set, else the latest date of any clean transaction (sale or refund).
with

orders as (
    select * from {{ ref('stg_transactions__orders') }}
),

refunds as (
    select * from {{ ref('stg_transactions__refunds') }}
),

transaction_dates as (
    select order_date as transaction_date from orders
    union all
    select refund_date as transaction_date from refunds
),

loaded as (
    select max(transaction_date) as last_loaded_date
    from transaction_dates
),

final as (
    select
        {% if as_of_date_setting() -%}
            cast('{{ as_of_date_setting() }}' as date)
        {%- else -%}
            last_loaded_date
        {%- endif %} as as_of_date,
        last_loaded_date
    from loaded
)

select * from final
