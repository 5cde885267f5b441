{{ config(materialized='table') }}
-- depends_on: {{ ref('base_transactions__customers') }}
{#- Without crm_customers files the customers are derived from the ledger
    (docs/metric_decisions.md, "Data that counts"): the same rules then run on
    rows shaped like a CRM export (id and signup only). -#}
{%- set derive_customers = not raw_table_is_landed('crm_customers') %}

with

source as (
    {% if derive_customers -%}
        select * from {{ ref('base_transactions__customers') }}
    {%- else -%}
        select * from {{ source('crm', 'crm_customers') }}
    {%- endif %}
),

landing_record as (
    select * from {{ ref('base_landing__files') }}
),

landed as (
    select
        source.*,
        landing_record.landing_sequence
    from source
    left join landing_record
        on source._source_file = landing_record.file_path
),

collapsed as (
    select
        customer_id,
        email,
        phone,
        first_name,
        last_name,
        birth_date,
        country_code,
        preferred_language,
        signup_at,
        acquisition_channel,
        referred_by_customer_id,
        marketing_consent,
        is_test_account,
        updated_at,
        min(_source_file) as source_file,
        max(landing_sequence) as landing_sequence,
        count(*) - 1 as collapsed_copies
    from landed
    group by
        customer_id,
        email,
        phone,
        first_name,
        last_name,
        birth_date,
        country_code,
        preferred_language,
        signup_at,
        acquisition_channel,
        referred_by_customer_id,
        marketing_consent,
        is_test_account,
        updated_at
),

typed as (
    select
        nullif(trim(customer_id), '') as customer_id,
        {{ normalize_email('email') }} as email,
        nullif(trim(phone), '') as phone,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        {{ parse_date("nullif(trim(birth_date), '')") }} as birth_date,
        nullif(upper(trim(country_code)), '') as country_code,
        nullif(lower(trim(preferred_language)), '') as preferred_language,
        nullif(trim(signup_at), '') as signup_at_raw,
        {{ parse_timestamp_utc("nullif(trim(signup_at), '')") }}
            as signed_up_at,
        nullif(trim(updated_at), '') as updated_at_raw,
        {{ parse_timestamp_utc("nullif(trim(updated_at), '')") }}
            as updated_at,
        coalesce(nullif(lower(trim(acquisition_channel)), ''), 'unknown')
            as acquisition_channel,
        nullif(trim(referred_by_customer_id), '')
            as referred_by_customer_id,
        nullif(trim(marketing_consent), '') as marketing_consent_raw,
        {{ parse_boolean("nullif(trim(marketing_consent), '')") }}
            as parsed_marketing_consent,
        nullif(trim(is_test_account), '') as is_test_account_raw,
        {{ parse_boolean("nullif(trim(is_test_account), '')") }}
            as parsed_is_test_account,
        {{ has_blank_required_field('crm_customers') }}
            as has_blank_required_field,
        source_file,
        landing_sequence,
        collapsed_copies
    from collapsed
),

row_checked as (
    select
        *,
        coalesce(parsed_marketing_consent, false) as has_marketing_consent,
        coalesce(parsed_is_test_account, false)
        or coalesce(email like '%@example.com', false) as is_test_account,
        case
            when has_blank_required_field then 'missing_required_field'
            when
                signed_up_at is null
                or {{ is_invalid('updated_at_raw', 'updated_at') }}
                then 'unparseable_date'
            when
                {{ is_invalid('marketing_consent_raw',
                    'parsed_marketing_consent') }}
                or {{ is_invalid('is_test_account_raw',
                    'parsed_is_test_account') }}
                then 'invalid_value'
        end as row_rejection_reason
    from typed
),

-- The same customer_id twice with different content: the latest update wins,
-- then the copy from the most recently landed file.
id_ranked as (
    select
        *,
        case
            when row_rejection_reason is null
                then row_number() over (
                    partition by row_rejection_reason is null, customer_id
                    order by
                        updated_at desc nulls last,
                        landing_sequence desc nulls last,
                        signed_up_at asc,
                        email asc
                )
        end as id_rank
    from row_checked
),

-- The same person (same normalised e-mail) under several ids: the survivor
-- is the earliest signup, then the smallest customer_id. A person without an
-- e-mail is matched by id only.
person_ranked as (
    select
        *,
        case
            when id_rank = 1
                then first_value(customer_id) over (
                    partition by
                        id_rank = 1,
                        email,
                        case when email is null then customer_id end
                    order by signed_up_at, customer_id
                )
        end as person_survivor_id,
        case
            when id_rank = 1
                then row_number() over (
                    partition by
                        id_rank = 1,
                        email,
                        case when email is null then customer_id end
                    order by signed_up_at, customer_id
                )
        end as person_rank
    from id_ranked
),

final as (
    select
        customer_id,
        email,
        phone,
        first_name,
        last_name,
        birth_date,
        country_code,
        preferred_language,
        signup_at_raw,
        signed_up_at,
        updated_at,
        acquisition_channel,
        referred_by_customer_id,
        has_marketing_consent,
        is_test_account,
        source_file,
        source_file = 'derived from transactions' as is_derived,
        collapsed_copies,
        max(person_survivor_id) over (
            partition by customer_id
        ) as survivor_customer_id,
        coalesce(
            row_rejection_reason,
            case when id_rank > 1 or person_rank > 1 then 'duplicate' end
        ) as rejection_reason
    from person_ranked
)

select * from final
