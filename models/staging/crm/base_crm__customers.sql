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

erasure_requests as (
    select * from {{ ref('base_crm__erasure_requests') }}
),

collapsed as (
    select
        {{ raw_column_list('crm_customers') }},
        min(_source_file) as source_file,
        max(landing_sequence) as landing_sequence,
        count(*) - 1 as collapsed_copies
    from landed
    group by
        {{ raw_column_list('crm_customers') }}
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

-- Erasure: a row whose id is named in an erasure request, every row sharing an
-- e-mail with it (the same person under another id), and every row sharing an
-- id with those (older versions of the record) lose their personal data.
erasure_named as (
    select
        person_ranked.*,
        erasure_requests.customer_id is not null as is_named_in_request
    from person_ranked
    left join erasure_requests
        on person_ranked.customer_id = erasure_requests.customer_id
),

erasure_by_email as (
    select
        *,
        bool_or(is_named_in_request) over (
            partition by coalesce(email, customer_id)
        ) as is_email_erased
    from erasure_named
),

-- The survivor of every version of an id is decided here too: windows over
-- the same partition are one sort (a window of its own cost about 1 s at 1M).
erasure_by_id as (
    select
        *,
        case
            when customer_id is null then is_email_erased
            else bool_or(is_email_erased) over (partition by customer_id)
        end as is_erasure_requested,
        max(person_survivor_id) over (
            partition by customer_id
        ) as survivor_customer_id
    from erasure_by_email
),

final as (
    select
        customer_id,
        case when not is_erasure_requested then email end as email,
        case when not is_erasure_requested then phone end as phone,
        case when not is_erasure_requested then first_name end as first_name,
        case when not is_erasure_requested then last_name end as last_name,
        case when not is_erasure_requested then birth_date end as birth_date,
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
        is_erasure_requested,
        survivor_customer_id,
        coalesce(
            row_rejection_reason,
            case when id_rank > 1 or person_rank > 1 then 'duplicate' end
        ) as rejection_reason
    from erasure_by_id
)

select * from final
