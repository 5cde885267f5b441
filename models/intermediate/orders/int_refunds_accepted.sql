{#- The accepted sale rows of the ledger (no rejection reason), renamed for
    what reads them. A view, as in staging: it only selects and renames. -#}
{{ config(materialized='view') }}

with

transactions as (
    select * from {{ ref('int_transactions_linked') }}
),

final as (
    select
        transaction_id as refund_id,
        order_id,
        customer_id,
        transacted_at as refunded_at,
        transaction_date as refund_date,
        items_count,
        currency_code,
        amount as refund_amount,
        rate_to_reporting as fx_rate_to_reporting,
        amount_reporting as refund_amount_reporting,
        transaction_at_format,
        transaction_at_format != 'iso_offset' as is_timestamp_reformatted,
        is_test_account
    from transactions
    where rejection_reason is null and transaction_type = 'refund'
)

select * from final
