{#- The raw ledger rows as landed, uncollapsed and untyped, with their file: how
    the incremental ledger (int_transactions_linked, macros/changed_orders.sql)
    finds the rows of files it has not read yet, and the raw rows it stages
    again for the orders it rebuilds (macros/transaction_rows_staged.sql). A
    view: nothing is stored. -#}
{{ config(materialized='view') }}

with

source as (
    select * from {{ source('transactions', 'transactions') }}
),

final as (
    select
        {{ raw_column_list('transactions') }},
        _source_file
    from source
)

select * from final
