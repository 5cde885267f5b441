{#- The accepted sale rows of the ledger (no rejection reason), renamed for
    what reads them. A view, as in staging: it only selects and renames. -#}
{{ config(materialized='view') }}

with

transactions as (
    select * from {{ ref('int_transactions_linked') }}
),

final as (
    select
        order_id,
        transaction_id as sale_transaction_id,
        customer_id,
        transacted_at as ordered_at,
        transaction_date as order_date,
        status as order_status,
        status = 'cancelled' as is_cancelled,
        sales_channel,
        store_id,
        items_count,
        currency_code,
        amount as sale_amount,
        rate_to_reporting as fx_rate_to_reporting,
        amount_reporting as sale_amount_reporting,
        transaction_at_format,
        transaction_at_format != 'iso_offset' as is_timestamp_reformatted,
        is_test_account
    from transactions
    where rejection_reason is null and transaction_type = 'sale'
)

select * from final
