{{ config(materialized='table') }}

with

source as (
    select * from {{ source('crm', 'crm_customers') }}
),

country_regions as (
    select * from {{ ref('country_regions') }}
),

erasure_requests as (
    select * from {{ ref('base_crm__erasure_requests') }}
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
        count(*) - 1 as collapsed_copies
    from source
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
        nullif(lower(trim(email)), '') as email,
        nullif(trim(phone), '') as phone,
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        {{ cast_or_null("nullif(trim(birth_date), '')", 'date') }}
            as birth_date,
        nullif(upper(trim(country_code)), '') as country_code,
        nullif(lower(trim(preferred_language)), '') as preferred_language,
        nullif(trim(signup_at), '') as signup_at_raw,
        {{ parse_timestamp_utc('trim(signup_at)') }} as signed_up_at,
        {{ parse_timestamp_utc('trim(updated_at)') }} as updated_at,
        nullif(lower(trim(acquisition_channel)), '')
            as acquisition_channel,
        nullif(trim(referred_by_customer_id), '')
            as referred_by_customer_id,
        coalesce(lower(trim(marketing_consent)) = 'true', false)
            as has_marketing_consent,
        coalesce(lower(trim(is_test_account)) = 'true', false)
        or coalesce(lower(trim(email)) like '%@example.com', false)
            as is_test_account,
        source_file,
        collapsed_copies
    from collapsed
),

row_checked as (
    select
        typed.*,
        case
            when
                typed.customer_id is null
                or typed.email is null
                or typed.country_code is null
                or typed.signup_at_raw is null
                or typed.acquisition_channel is null
                then 'missing_required_field'
            when typed.signed_up_at is null then 'unparseable_date'
            when
                country_regions.country_code is null
                or typed.acquisition_channel not in (
                    'paid_search', 'social', 'email', 'organic',
                    'referral', 'partner', 'store'
                )
                then 'invalid_value'
        end as row_rejection_reason
    from typed
    left join country_regions
        on typed.country_code = country_regions.country_code
),

-- The same customer_id twice with different content: the latest update wins.
id_ranked as (
    select
        *,
        case
            when row_rejection_reason is null
                then row_number() over (
                    partition by row_rejection_reason is null, customer_id
                    order by
                        updated_at desc nulls last, signed_up_at asc, email asc
                )
        end as id_rank
    from row_checked
),

-- The same person (same normalised e-mail) under several ids: the survivor
-- is the earliest signup, then the smallest customer_id.
person_ranked as (
    select
        *,
        case
            when id_rank = 1
                then first_value(customer_id) over (
                    partition by id_rank = 1, email
                    order by signed_up_at, customer_id
                )
        end as person_survivor_id,
        case
            when id_rank = 1
                then row_number() over (
                    partition by id_rank = 1, email
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

erasure_by_id as (
    select
        *,
        case
            when customer_id is null then is_email_erased
            else bool_or(is_email_erased) over (partition by customer_id)
        end as is_erasure_requested
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
        collapsed_copies,
        is_erasure_requested,
        max(person_survivor_id) over (
            partition by customer_id
        ) as survivor_customer_id,
        coalesce(
            row_rejection_reason,
            case when id_rank > 1 or person_rank > 1 then 'duplicate' end
        ) as rejection_reason
    from erasure_by_id
)

select * from final
