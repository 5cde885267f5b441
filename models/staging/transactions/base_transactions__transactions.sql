{#- Incremental (delete+insert by order_id): a run rebuilds only the orders
    touched by something new and keeps every other row (which orders:
    macros/changed_orders.sql; the rules are in the model's description in
    _transactions__models.yml). Rows without an order_id (always rejected) are
    cheap: they are all rebuilt every run. The landing order and day of each
    row are read from the landing record on every run (never stored), so a
    rebuilt order ranks its rows as a full build would. -#}
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

{{ changed_orders_ctes(source('transactions', 'transactions')) }}
source as (
    select * from {{ source('transactions', 'transactions') }}
    {{ in_changed_orders(
        "nullif(trim(order_id), '')", 'trim(transaction_id)'
    ) }}
),

fx_rates as (
    select * from {{ ref('stg_reference__fx_rates') }}
),

currency_minor_units as (
    select * from {{ ref('currency_minor_units') }}
),

landing_record as (
    select * from {{ ref('base_landing__files') }}
),

-- The reporting currency needs no rate (exactly 1); any other needs FX rows.
known_currencies as (
    select distinct currency_code from fx_rates
    union
    select '{{ var("reporting_currency") }}' as currency_code
),

-- Each raw row with its file's place in the landing order and landing day.
landed as (
    select
        source.*,
        landing_record.landing_sequence,
        landing_record.landed_on
    from source
    left join landing_record
        on source._source_file = landing_record.file_path
),

-- Identical copies are one row; it counts as landed when its latest copy was.
collapsed as (
    select
        {{ raw_column_list('transactions') }},
        min(_source_file) as source_file,
        max(landing_sequence) as landing_sequence,
        max(landed_on) as landed_on,
        count(*) - 1 as collapsed_copies
    from landed
    group by
        {{ raw_column_list('transactions') }}
),

-- Trimmed text, blank = NULL; the documented defaults of optional columns.
trimmed as (
    select
        nullif(trim(transaction_id), '') as given_transaction_id,
        nullif(trim(order_id), '') as order_id,
        nullif(trim(customer_id), '') as raw_customer_id,
        coalesce(nullif(lower(trim(transaction_type)), ''), 'sale')
            as transaction_type,
        nullif(trim(transaction_at), '') as transaction_at_raw,
        nullif(trim(amount), '') as amount_raw,
        {%- set default_currency = var("default_currency_code") | upper %}
        coalesce(
            nullif(upper(trim(currency_code)), ''),
            nullif('{{ default_currency }}', '')
        ) as currency_code,
        case
            when lower(trim(status)) = 'canceled' then 'cancelled'
            else coalesce(nullif(lower(trim(status)), ''), 'completed')
        end as status,
        coalesce(nullif(lower(trim(sales_channel)), ''), 'unknown')
            as sales_channel,
        nullif(trim(store_id), '') as store_id,
        nullif(trim(items_count), '') as items_count_raw,
        {{ has_blank_required_field('transactions') }}
            as has_blank_required_field,
        source_file,
        landing_sequence,
        landed_on,
        collapsed_copies
    from collapsed
),

typed as (
    select
        -- Without a transaction_id a sale is identified by its order (one sale
        -- per order) and a refund by its order and timestamp as written.
        coalesce(
            trimmed.given_transaction_id,
            case
                when trimmed.transaction_type = 'refund'
                    then
                        trimmed.order_id || '#refund#'
                        || trimmed.transaction_at_raw
                else trimmed.order_id || '#' || trimmed.transaction_type
            end
        ) as transaction_id,
        trimmed.given_transaction_id is null as is_transaction_id_derived,
        trimmed.order_id,
        trimmed.raw_customer_id,
        trimmed.transaction_type,
        trimmed.transaction_at_raw,
        {{ parse_timestamp_utc('trimmed.transaction_at_raw') }}
            as transacted_at,
        {{ timestamp_format('trimmed.transaction_at_raw') }}
            as transaction_at_format,
        trimmed.amount_raw,
        {{ parse_money('trimmed.amount_raw',
            'least(coalesce(currency_minor_units.minor_units, 2), 2)') }}
            as amount,
        trimmed.currency_code,
        trimmed.status,
        trimmed.sales_channel,
        trimmed.store_id,
        trimmed.items_count_raw,
        {{ parse_integer('trimmed.items_count_raw', signed=false) }}
            as items_count,
        trimmed.has_blank_required_field,
        trimmed.source_file,
        trimmed.landing_sequence,
        trimmed.landed_on,
        trimmed.collapsed_copies
    from trimmed
    left join currency_minor_units
        on trimmed.currency_code = currency_minor_units.currency_code
),

row_checked as (
    select
        typed.*,
        customer_ids.survivor_customer_id as customer_id,
        coalesce(customer_ids.is_test_account, false) as is_test_account,
        case
            when typed.currency_code = '{{ var("reporting_currency") }}'
                then cast(1 as decimal(18, 8))
            else fx_rates.rate_to_reporting
        end as rate_to_reporting,
        case
            when typed.has_blank_required_field then 'missing_required_field'
            when typed.transacted_at is null then 'unparseable_date'
            when
                typed.transaction_type not in ('sale', 'refund')
                or typed.status not in ('completed', 'cancelled')
                or typed.amount is null
                or {{ is_invalid('typed.items_count_raw',
                    'typed.items_count') }}
                then 'invalid_value'
            -- Dated after the day its file landed: no real row can be.
            when cast(typed.transacted_at as date) > typed.landed_on
                then 'future_dated'
            when typed.amount < 0 then 'negative_amount'
            when typed.amount = 0 then 'invalid_value'
            when known_currencies.currency_code is null
                then 'unknown_currency'
            when
                typed.currency_code != '{{ var("reporting_currency") }}'
                and fx_rates.rate_to_reporting is null
                then 'missing_fx_rate'
            when customer_ids.survivor_customer_id is null
                then 'unknown_customer'
        end as row_rejection_reason
    from typed
    left join customer_ids
        on typed.raw_customer_id = customer_ids.customer_id
    left join known_currencies
        on typed.currency_code = known_currencies.currency_code
    left join fx_rates
        on
            typed.currency_code = fx_rates.currency_code
            and cast(typed.transacted_at as date) = fx_rates.rate_date
),

-- One row per transaction_id: the copy from the most recently landed file
-- wins, older ones are superseded; two versions in one file: the earliest
-- timestamp wins, the other is a duplicate.
id_ranked as (
    select
        *,
        row_number() over (
            partition by row_rejection_reason is null, transaction_id
            order by
                landing_sequence desc, transacted_at asc, order_id asc,
                amount_raw asc
        ) as id_rank,
        max(landing_sequence) over (
            partition by row_rejection_reason is null, transaction_id
        ) as latest_landing_sequence
    from row_checked
),

id_checked as (
    select
        *,
        case
            when row_rejection_reason is not null then row_rejection_reason
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
