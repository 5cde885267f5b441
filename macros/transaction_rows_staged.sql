{#-
    transaction_rows_staged_ctes(raw_rows): how raw ledger rows are staged, written
    once for the two places that stage them. raw_rows names a relation or CTE of
    raw ledger rows as landed (every raw column and _source_file); the CTEs
    landing_record (base_landing__files) and currency_minor_units (the seed) must
    be defined before. Renders the CTEs landed, collapsed, trimmed, typed and
    staged_rows, each followed by a comma; staged_rows holds one row per distinct
    raw row, typed, with the checks that need nothing but the row and its file's
    landing day.

    The staging view base_transactions__transactions applies it to every raw row.
    The incremental ledger (int_transactions_linked) applies it to the raw rows of
    the orders it rebuilds: a filter on the view's output would sit above the
    collapse (a join on its result, which DuckDB does not push below a group by),
    so the view would collapse and type every raw row on each daily run. The
    filter is on columns the collapse groups by, so both give the same rows.
-#}
{% macro transaction_rows_staged_ctes(raw_rows) -%}
-- Each raw row with its file's place in the landing order and landing day.
landed as (
    select
        raw_rows.*,
        landing_record.landing_sequence,
        landing_record.landed_on
    from {{ raw_rows }} as raw_rows
    left join landing_record
        on raw_rows._source_file = landing_record.file_path
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
        trimmed.given_transaction_id,
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

-- The checks of the row alone, first match wins; the ledger adds the ones
-- that need the FX rates and the CRM (unknown_currency, missing_fx_rate,
-- unknown_customer) after these.
staged_rows as (
    select
        *,
        cast(transacted_at as date) as transaction_date,
        case
            when has_blank_required_field then 'missing_required_field'
            when transacted_at is null then 'unparseable_date'
            when
                transaction_type not in ('sale', 'refund')
                or status not in ('completed', 'cancelled')
                or amount is null
                or {{ is_invalid('items_count_raw', 'items_count') }}
                then 'invalid_value'
            -- Dated after the day its file landed: no real row can be.
            when cast(transacted_at as date) > landed_on
                then 'future_dated'
            when amount < 0 then 'negative_amount'
            when amount = 0 then 'invalid_value'
        end as rejection_reason
    from typed
),
{%- endmacro %}
