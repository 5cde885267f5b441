{#-
    Which orders an incremental run of the ledger (int_transactions_linked,
    delete+insert by order_id) rebuilds. A run reads back the rows it stored
    ({{ this }}) and finds the rows that changed: rows of raw files it has not read
    yet (new days, re-sent copies), rows dated within var incremental_lookback_days
    of the latest stored transaction (a corrected re-export of recent days under
    the same file name), and rows whose customer now maps differently (a CRM row
    that landed after the purchase, a person merged into another, a test-account
    flag). A changed row touches its order and every order holding a row with the
    same transaction_id (a reused id is ranked across orders); every
    transaction_id of an affected order is read back in full, so the duplicate
    ranking of those ids sees all their rows. In a full build both macros render
    nothing.

    changed_orders_ctes(source_relation, customer_ids): the CTEs stored, ...,
    affected_orders (order_id) and affected_transactions (transaction_id), each
    followed by a comma, for the model's `with`. source_relation holds the raw
    rows' transaction_id, order_id and _source_file, not collapsed
    (base_transactions__row_files). customer_ids names a relation or
    CTE of the current customer mapping (customer_id, survivor_customer_id,
    is_test_account), defined before them.
-#}
{% macro changed_orders_ctes(source_relation, customer_ids='customer_ids') -%}
    {%- if is_incremental() %}
    stored as (
        select * from {{ this }}
    ),

    landed_files as (
        select distinct source_file from stored
    ),

    new_rows as (
        select
            nullif(trim(landing.transaction_id), '') as transaction_id,
            nullif(trim(landing.order_id), '') as order_id
        from {{ source_relation }} as landing
        left join landed_files
            on landing._source_file = landed_files.source_file
        where landed_files.source_file is null
    ),

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

    remapped_rows as (
        select
            stored.transaction_id,
            stored.order_id
        from stored
        left join {{ customer_ids }} as customer_ids
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

    affected_orders as (
        select order_id from changed_rows
        union
        select stored.order_id
        from stored
        inner join changed_rows
            on stored.transaction_id = changed_rows.transaction_id
    ),

    affected_transactions as (
        select stored.transaction_id
        from stored
        inner join affected_orders
            on stored.order_id = affected_orders.order_id
        union
        select transaction_id from new_rows
    ),
    {% endif -%}
{%- endmacro %}

{#-
    in_changed_orders(order_id, transaction_id): a where clause keeping the rows an
    incremental run rebuilds (after changed_orders_ctes): rows without an order_id
    (always rejected, cheap: all rebuilt every run), rows of an affected order and,
    when transaction_id is given, rows of an affected transaction_id (read as
    context for the ranking). The arguments are SQL expressions, so the raw text can
    be filtered before it is typed. Empty in a full build.
-#}
{% macro in_changed_orders(order_id='order_id', transaction_id=none) -%}
    {%- if is_incremental() -%}
        where
            {{ order_id }} is null
            or {{ order_id }} in (
                select affected_orders.order_id from affected_orders
            )
        {%- if transaction_id %}
            or {{ transaction_id }} in (
                select affected_transactions.transaction_id
                from affected_transactions
            )
        {%- endif %}
    {%- endif -%}
{%- endmacro %}
