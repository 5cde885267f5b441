{#- The ledger: every distinct raw ledger row (typed and checked in
    staging, base_transactions__transactions) with its customer re-keyed to the
    surviving person, converted to the reporting currency at its own date's
    rate, ranked against the other versions of its transaction_id and, for a
    refund, linked to its order; rejection_reason says why a row is set aside.
    Incremental (delete+insert by order_id): a run rebuilds only the orders
    touched by something new and keeps every other row (which orders:
    macros/changed_orders.sql; the rules are in the model's description in
    _orders__models.yml). Rows without an order_id (always rejected) are
    cheap: they are all rebuilt every run. The landing order and day of each
    row are read from the landing record on every run (never stored), so a
    rebuilt order ranks its rows as a full build would. An incremental run
    stages the rebuilt orders' raw rows itself, with the staging view's macro
    (transaction_rows_staged_ctes), so it never collapses all raw rows; its
    extra inputs are declared below (dbt parses the full-build branch). -#}
-- depends_on: {{ ref('currency_minor_units') }}
-- depends_on: {{ ref('base_landing__files') }}
{{ config(
    materialized=refresh_materialization(),
    incremental_strategy='delete+insert',
    unique_key='order_id',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }}"
        ~ " where order_id is null{% endif %}",
) }}

with

customer_ids as (
    select * from {{ ref('stg_crm__customer_ids') }}
),

{{ changed_orders_ctes(ref('base_transactions__row_files')) }}
{% if is_incremental() %}
    -- The raw rows of the orders this run rebuilds, staged here by the staging
    -- view's own steps (macros/transaction_rows_staged.sql): filtering the view
    -- would collapse and type every raw row first.
    changed_raw_rows as (
        select * from {{ ref('base_transactions__row_files') }}
        {{ in_changed_orders("nullif(trim(order_id), '')",
            "nullif(trim(transaction_id), '')") }}
    ),

    currency_minor_units as (
        select * from {{ ref('currency_minor_units') }}
    ),

    landing_record as (
        select * from {{ ref('base_landing__files') }}
    ),

    {{ transaction_rows_staged_ctes('changed_raw_rows') }}

    staged as (
        select * from staged_rows
    ),
{% else %}
    staged as (
        select * from {{ ref('base_transactions__transactions') }}
    ),
{% endif %}

fx_rates as (
    select * from {{ ref('stg_reference__fx_rates') }}
),

-- The reporting currency needs no rate (exactly 1); any other needs FX rows.
known_currencies as (
    select distinct currency_code from fx_rates
    union
    select '{{ var("reporting_currency") }}' as currency_code
),

-- Re-keyed to the surviving person, converted at the day's rate; the checks
-- that need the CRM or the FX rates follow the row's own checks.
row_checked as (
    select
        staged.*,
        customer_ids.survivor_customer_id as customer_id,
        coalesce(customer_ids.is_test_account, false) as is_test_account,
        case
            when staged.currency_code = '{{ var("reporting_currency") }}'
                then cast(1 as decimal(18, 8))
            else fx_rates.rate_to_reporting
        end as rate_to_reporting,
        case
            when staged.rejection_reason is not null
                then staged.rejection_reason
            when known_currencies.currency_code is null
                then 'unknown_currency'
            when
                staged.currency_code != '{{ var("reporting_currency") }}'
                and fx_rates.rate_to_reporting is null
                then 'missing_fx_rate'
            when customer_ids.survivor_customer_id is null
                then 'unknown_customer'
        end as checked_rejection_reason
    from staged
    left join customer_ids
        on staged.raw_customer_id = customer_ids.customer_id
    left join known_currencies
        on staged.currency_code = known_currencies.currency_code
    left join fx_rates
        on
            staged.currency_code = fx_rates.currency_code
            and cast(staged.transacted_at as date) = fx_rates.rate_date
),

-- One row per transaction_id: the copy from the most recently landed file
-- wins, older ones are superseded; two versions in one file: the earliest
-- timestamp wins, the other is a duplicate.
id_ranked as (
    select
        *,
        row_number() over (
            partition by checked_rejection_reason is null, transaction_id
            order by
                landing_sequence desc, transacted_at asc, order_id asc,
                amount_raw asc
        ) as id_rank,
        max(landing_sequence) over (
            partition by checked_rejection_reason is null, transaction_id
        ) as latest_landing_sequence
    from row_checked
),

id_checked as (
    select
        *,
        case
            when checked_rejection_reason is not null
                then checked_rejection_reason
            when id_rank > 1 and landing_sequence < latest_landing_sequence
                then 'superseded'
            when id_rank > 1 then 'duplicate'
        end as id_rejection_reason
    from id_ranked
),

sale_checked as (
    select
        *,
        case
            when id_rejection_reason is not null then id_rejection_reason
            when
                transaction_type = 'sale'
                and row_number() over (
                    partition by
                        id_rejection_reason is null,
                        transaction_type,
                        order_id
                    order by transacted_at, transaction_id
                ) > 1
                then 'duplicate'
        end as sale_rejection_reason
    from id_checked
),

sales as (
    select
        order_id,
        amount as order_amount,
        currency_code as order_currency_code,
        status as order_status,
        customer_id as order_customer_id
    from sale_checked
    where sale_rejection_reason is null and transaction_type = 'sale'
),

refund_linked as (
    select
        sale_checked.*,
        sales.order_amount,
        case
            when sale_checked.sale_rejection_reason is not null
                then sale_checked.sale_rejection_reason
            when sale_checked.transaction_type = 'sale' then null
            when sales.order_id is null then 'unknown_order'
            when sales.order_status = 'cancelled'
                then 'refund_of_cancelled_order'
            when sales.order_currency_code != sale_checked.currency_code
                then 'currency_mismatch'
        end as link_rejection_reason
    from sale_checked
    -- The refund-only match is a join key (not an extra ON condition): DuckDB
    -- plans `a.x = b.x and a.type = 'refund'` as a nested-loop join, which made
    -- this model quadratic (150 s at 10k customers; see docs/benchmarks.md).
    left join sales
        on
            case
                when sale_checked.transaction_type = 'refund'
                    then sale_checked.order_id
            end = sales.order_id
),

-- Refunds of one order may not add up to more than the order: the refund
-- that crosses the order amount (and any after it) is set aside.
refund_totalled as (
    select
        *,
        case
            when
                link_rejection_reason is null
                and transaction_type = 'refund'
                then sum(amount) over (
                    partition by
                        link_rejection_reason is null,
                        transaction_type,
                        order_id
                    order by transacted_at, transaction_id
                    rows between unbounded preceding and current row
                )
        end as cumulative_refunded_amount
    from refund_linked
),

final as (
    select
        transaction_id,
        is_transaction_id_derived,
        order_id,
        customer_id,
        raw_customer_id,
        transaction_type,
        transaction_at_raw,
        transacted_at,
        cast(transacted_at as date) as transaction_date,
        transaction_at_format,
        amount_raw,
        amount,
        currency_code,
        rate_to_reporting,
        cast(round(amount * rate_to_reporting, 2) as decimal(18, 2))
            as amount_reporting,
        status,
        sales_channel,
        store_id,
        items_count,
        is_test_account,
        source_file,
        collapsed_copies,
        coalesce(
            link_rejection_reason,
            case
                when cumulative_refunded_amount > order_amount
                    then 'refund_exceeds_order'
            end
        ) as rejection_reason
    from refund_totalled
    -- Rows of other orders were read only as context.
    {{ in_changed_orders('order_id') }}
)

select * from final
