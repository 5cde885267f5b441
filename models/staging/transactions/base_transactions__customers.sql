{#- The customers a ledger implies, for a landing without crm_customers files
    (base_crm__customers reads this instead of the CRM then): one row per
    customer_id with a sale, signed up at its earliest sale whose timestamp
    parses (before any other check of the row), shaped like a CRM export row.
    A view: it costs nothing when a CRM is landed. -#}
{{ config(materialized='view') }}
{#- A CRM export row: the id, the signup (ISO 8601 without offset: read back
    as UTC by staging) and every other column NULL. -#}
{%- set derived = {
    'customer_id': 'first_sales.customer_id',
    'signup_at': format_timestamp_iso('first_sales.first_transacted_at'),
} %}
{%- set null_text = 'cast(null as ' ~ dbt.type_string() ~ ')' %}

with

source as (
    select * from {{ source('transactions', 'transactions') }}
),

sales as (
    select
        nullif(trim(customer_id), '') as customer_id,
        {{ parse_timestamp_utc("nullif(trim(transaction_at), '')") }}
            as transacted_at
    from source
    where
        coalesce(nullif(lower(trim(transaction_type)), ''), 'sale') = 'sale'
),

first_sales as (
    select
        customer_id,
        min(transacted_at) as first_transacted_at
    from sales
    where customer_id is not null and transacted_at is not null
    group by customer_id
),

final as (
    select
        {%- for column in get_raw_columns('crm_customers') %}
            {{ derived.get(column, null_text) }} as {{ column }},
        {%- endfor %}
        'derived from transactions' as _source_file
    from first_sales
)

select * from final
