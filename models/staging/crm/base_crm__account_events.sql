{{ config(materialized='table') }}

with

source as (
    select * from {{ source('crm', 'crm_account_events') }}
),

customer_ids as (
    select * from {{ ref('stg_crm__customer_ids') }}
),

collapsed as (
    select
        {{ raw_column_list('crm_account_events') }},
        min(_source_file) as source_file,
        count(*) - 1 as collapsed_copies
    from source
    group by
        {{ raw_column_list('crm_account_events') }}
),

typed as (
    select
        {{ has_blank_required_field('crm_account_events') }}
            as has_blank_required_field,
        nullif(trim(event_id), '') as event_id,
        nullif(trim(customer_id), '') as raw_customer_id,
        nullif(lower(trim(event_type)), '') as event_type,
        nullif(trim(event_at), '') as event_at_raw,
        {{ parse_timestamp_utc("nullif(trim(event_at), '')") }} as event_at,
        source_file,
        collapsed_copies
    from collapsed
),

row_checked as (
    select
        typed.*,
        customer_ids.survivor_customer_id as customer_id,
        coalesce(customer_ids.is_test_account, false) as is_test_account,
        case
            when typed.has_blank_required_field then 'missing_required_field'
            when typed.event_at is null then 'unparseable_date'
            when typed.event_type not in ('closure', 'erasure_request')
                then 'invalid_value'
            when customer_ids.survivor_customer_id is null
                then 'unknown_customer'
        end as row_rejection_reason
    from typed
    left join customer_ids
        on typed.raw_customer_id = customer_ids.customer_id
),

final as (
    select
        *,
        coalesce(
            row_rejection_reason,
            case
                when row_number() over (
                    partition by row_rejection_reason is null, event_id
                    order by event_at, raw_customer_id, event_type
                ) > 1 then 'duplicate'
            end
        ) as rejection_reason
    from row_checked
)

select * from final
