{{ config(materialized='table') }}

-- A table, not a view: email_hash is keyed with the RETENTION_HASH_KEY secret,
-- and a view would keep that key in its SQL (macros/hash_pii.sql).

with

customers as (
    select * from {{ ref('base_crm__customers') }}
),

customer_ids as (
    select * from {{ ref('stg_crm__customer_ids') }}
),

events as (
    select * from {{ ref('base_crm__account_events') }}
),

erasures as (
    select
        customer_id,
        min(event_at) as erasure_requested_at
    from events
    where rejection_reason is null and event_type = 'erasure_request'
    group by customer_id
),

clean as (
    select * from customers
    where rejection_reason is null
),

final as (
    select
        clean.customer_id,
        -- base_crm__customers already blanked the personal data of everyone
        -- named in an erasure request; their transactions stay for aggregates.
        clean.email,
        {{ hash_pii('clean.email') }} as email_hash,
        clean.phone,
        clean.first_name,
        clean.last_name,
        clean.birth_date,
        clean.country_code,
        clean.preferred_language,
        clean.signed_up_at,
        cast(clean.signed_up_at as date) as signup_date,
        clean.acquisition_channel,
        referrers.survivor_customer_id as referred_by_customer_id,
        clean.has_marketing_consent,
        clean.is_test_account,
        clean.is_derived as is_derived_from_transactions,
        erasures.customer_id is not null as is_erased,
        erasures.erasure_requested_at,
        clean.updated_at
    from clean
    left join customer_ids as referrers
        on clean.referred_by_customer_id = referrers.customer_id
    left join erasures
        on clean.customer_id = erasures.customer_id
)

select * from final
