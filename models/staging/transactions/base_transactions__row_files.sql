{#- The raw ledger rows' ids and files, uncollapsed: how the incremental ledger
    (int_transactions_linked, macros/changed_orders.sql) finds the rows of files
    it has not read yet. A view: nothing is stored. -#}
{{ config(materialized='view') }}

with

source as (
    select * from {{ source('transactions', 'transactions') }}
),

final as (
    select
        transaction_id,
        order_id,
        _source_file
    from source
)

select * from final
