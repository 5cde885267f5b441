{#- The customers a ledger implies, for a landing without crm_customers files
    (base_crm__customers reads this instead of the CRM then): one row per
    customer_id with a sale, signed up at its earliest sale whose timestamp
    parses (before any other check of the row), shaped like a CRM export row.
    A view: it costs nothing when a CRM is landed. -#}
{{ config(materialized='view') }}

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
        customer_id,
        cast(null as {{ dbt.type_string() }}) as email,
        cast(null as {{ dbt.type_string() }}) as phone,
        cast(null as {{ dbt.type_string() }}) as first_name,
        cast(null as {{ dbt.type_string() }}) as last_name,
        cast(null as {{ dbt.type_string() }}) as birth_date,
        cast(null as {{ dbt.type_string() }}) as country_code,
        cast(null as {{ dbt.type_string() }}) as preferred_language,
        -- ISO 8601 without offset: read back as UTC by staging.
        {{ format_timestamp_iso('first_transacted_at') }} as signup_at,
        cast(null as {{ dbt.type_string() }}) as acquisition_channel,
        cast(null as {{ dbt.type_string() }}) as referred_by_customer_id,
        cast(null as {{ dbt.type_string() }}) as marketing_consent,
        cast(null as {{ dbt.type_string() }}) as is_test_account,
        cast(null as {{ dbt.type_string() }}) as updated_at,
        'derived from transactions' as _source_file
    from first_sales
)

select * from final
