{#- Incremental (delete+insert by order_id): a run rebuilds only the orders
    touched by something new and keeps every other row. See the model's
    description in _transactions__models.yml for the rules. Rows without an
    order_id (always rejected) are cheap: they are all rebuilt every run. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='order_id',
    on_schema_change='fail',
    pre_hook="{% if is_incremental() %}delete from {{ this }}"
        ~ " where order_id is null{% endif %}",
) }}

with

{% if is_incremental() -%}
    stored as (
        select * from {{ this }}
    ),

{% endif -%}
customer_ids as (
    select * from {{ ref('stg_crm__customer_ids') }}
),

{% if is_incremental() -%}
    landed_files as (
        select distinct source_file from stored
    ),

    -- Raw rows of files this model has not read yet (new days, re-sent copies).
    new_rows as (
        select
            nullif(trim(landing.transaction_id), '') as transaction_id,
            nullif(trim(landing.order_id), '') as order_id
        from {{ source('transactions', 'transactions') }} as landing
        left join landed_files
            on landing._source_file = landed_files.source_file
        where landed_files.source_file is null
    ),

    -- Rows inside the lookback window before the high-water mark are always
    -- rebuilt (a corrected re-export of recent days under the same file name).
    lookback as (
        select
            {{ add_days('max(transaction_date)',
                -var('incremental_lookback_days')) }} as lookback_start
        from stored
    ),

    recent_rows as (
        select
            stored.transaction_id,
            stored.order_id
        from stored
        inner join lookback
            on stored.transaction_date >= lookback.lookback_start
    ),

    -- Rows whose customer now maps differently: a CRM row that landed after the
    -- purchase, a person merged into another, a test-account flag.
    remapped_rows as (
        select
            stored.transaction_id,
            stored.order_id
        from stored
        left join customer_ids
            on stored.raw_customer_id = customer_ids.customer_id
        where
            stored.customer_id
            is distinct from customer_ids.survivor_customer_id
            or stored.is_test_account
            != coalesce(customer_ids.is_test_account, false)
    ),

    changed_rows as (
        select * from new_rows
        union all
        select * from recent_rows
        union all
        select * from remapped_rows
    ),

    -- A changed row touches its order and every order holding a row with the
    -- same transaction_id (a reused id is ranked across orders).
    affected_orders as (
        select order_id from changed_rows
        union
        select stored.order_id
        from stored
        inner join changed_rows
            on stored.transaction_id = changed_rows.transaction_id
    ),

    -- Every transaction_id of an affected order is read back in full, so the
    -- duplicate ranking of those ids sees all their rows.
    affected_transactions as (
        select stored.transaction_id
        from stored
        inner join affected_orders
            on stored.order_id = affected_orders.order_id
        union
        select transaction_id from new_rows
    ),

{% endif -%}
source as (
    select * from {{ source('transactions', 'transactions') }}
    {% if is_incremental() -%}
        where
            nullif(trim(order_id), '') is null
            or trim(order_id) in (
                select affected_orders.order_id from affected_orders
            )
            or trim(transaction_id) in (
                select affected_transactions.transaction_id
                from affected_transactions
            )
    {%- endif %}
),

fx_rates as (
    select * from {{ ref('stg_reference__fx_rates') }}
),

known_currencies as (
    select distinct currency_code from fx_rates
),

collapsed as (
    select
        transaction_id,
        order_id,
        customer_id,
        transaction_type,
        transaction_at,
        amount,
        currency_code,
        status,
        sales_channel,
        store_id,
        items_count,
        min(_source_file) as source_file,
        count(*) - 1 as collapsed_copies
    from source
    group by
        transaction_id,
        order_id,
        customer_id,
        transaction_type,
        transaction_at,
        amount,
        currency_code,
        status,
        sales_channel,
        store_id,
        items_count
),

typed as (
    select
        nullif(trim(transaction_id), '') as transaction_id,
        nullif(trim(order_id), '') as order_id,
        nullif(trim(customer_id), '') as raw_customer_id,
        nullif(lower(trim(transaction_type)), '') as transaction_type,
        nullif(trim(transaction_at), '') as transaction_at_raw,
        {{ parse_timestamp_utc('trim(transaction_at)') }} as transacted_at,
        {{ timestamp_format('trim(transaction_at)') }}
            as transaction_at_format,
        nullif(trim(amount), '') as amount_raw,
        {{ cast_or_null('trim(amount)', 'decimal(18, 2)') }} as amount,
        nullif(upper(trim(currency_code)), '') as currency_code,
        nullif(lower(trim(status)), '') as status,
        nullif(lower(trim(sales_channel)), '') as sales_channel,
        nullif(trim(store_id), '') as store_id,
        nullif(trim(items_count), '') as items_count_raw,
        {{ cast_or_null('trim(items_count)', 'integer') }} as items_count,
        source_file,
        collapsed_copies
    from collapsed
),

row_checked as (
    select
        typed.*,
        customer_ids.survivor_customer_id as customer_id,
        coalesce(customer_ids.is_test_account, false) as is_test_account,
        fx_rates.rate_to_reporting,
        case
            when
                typed.transaction_id is null
                or typed.order_id is null
                or typed.raw_customer_id is null
                or typed.transaction_type is null
                or typed.transaction_at_raw is null
                or typed.amount_raw is null
                or typed.currency_code is null
                or typed.status is null
                then 'missing_required_field'
            when typed.transacted_at is null then 'unparseable_date'
            when
                typed.transaction_type not in ('sale', 'refund')
                or typed.status not in ('completed', 'cancelled')
                or typed.amount is null
                or (
                    typed.items_count_raw is not null
                    and typed.items_count is null
                )
                then 'invalid_value'
            when typed.amount < 0 then 'negative_amount'
            when typed.amount = 0 then 'invalid_value'
            when known_currencies.currency_code is null
                then 'unknown_currency'
            when fx_rates.rate_to_reporting is null then 'missing_fx_rate'
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

-- One row per transaction_id, one sale per order: later arrivals with a
-- reused id are duplicates.
id_checked as (
    select
        *,
        case
            when row_rejection_reason is not null then row_rejection_reason
            when row_number() over (
                partition by row_rejection_reason is null, transaction_id
                order by transacted_at, source_file, order_id, amount_raw
            ) > 1 then 'duplicate'
        end as id_rejection_reason
    from row_checked
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
        order_id,
        customer_id,
        raw_customer_id,
        transaction_type,
        transaction_at_raw,
        transacted_at,
        cast(transacted_at as date) as transaction_date,
        transaction_at_format,
        amount,
        currency_code,
        rate_to_reporting,
        round(amount * rate_to_reporting, 2) as amount_reporting,
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
    {% if is_incremental() -%}
        -- Rows of other orders were read only as context.
        where
            order_id is null
            or order_id in (
                select affected_orders.order_id from affected_orders
            )
    {%- endif %}
)

select * from final
