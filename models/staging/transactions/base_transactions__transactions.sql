{#- Every distinct raw ledger row, typed, with the checks that need nothing
    but the row (and its file's landing day): one source, no joins to other
    systems. The steps (collapse identical copies, trim, type, check) are the
    macro transaction_rows_staged_ctes, which the incremental ledger
    (intermediate/orders/int_transactions_linked) also applies to the raw rows
    of the orders it rebuilds; re-keying customers, FX conversion, version
    ranking and refund linking follow there. -#}
{{ config(materialized='view') }}

with

source as (
    select * from {{ source('transactions', 'transactions') }}
),

currency_minor_units as (
    select * from {{ ref('currency_minor_units') }}
),

landing_record as (
    select * from {{ ref('base_landing__files') }}
),

{{ transaction_rows_staged_ctes('source') }}

final as (
    select * from staged_rows
)

select * from final
