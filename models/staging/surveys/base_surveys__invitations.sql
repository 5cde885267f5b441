{{ config(materialized='table') }}

with

source as (
    select * from {{ source('surveys', 'survey_invitations') }}
),

customer_ids as (
    select * from {{ ref('stg_crm__customer_ids') }}
),

survey_types as (
    select * from {{ ref('survey_types') }}
),

collapsed as (
    select
        {{ raw_column_list('survey_invitations') }},
        min(_source_file) as source_file,
        count(*) - 1 as collapsed_copies
    from source
    group by
        {{ raw_column_list('survey_invitations') }}
),

typed as (
    select
        {{ has_blank_required_field('survey_invitations') }}
            as has_blank_required_field,
        nullif(trim(invitation_id), '') as invitation_id,
        nullif(trim(customer_id), '') as raw_customer_id,
        nullif(lower(trim(survey_type)), '') as survey_type,
        nullif(trim(sent_at), '') as sent_at_raw,
        {{ parse_timestamp_utc("nullif(trim(sent_at), '')") }} as sent_at,
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
            when typed.sent_at is null then 'unparseable_date'
            when survey_types.survey_type is null then 'invalid_value'
            when customer_ids.survivor_customer_id is null
                then 'unknown_customer'
        end as row_rejection_reason
    from typed
    left join customer_ids
        on typed.raw_customer_id = customer_ids.customer_id
    left join survey_types
        on typed.survey_type = survey_types.survey_type
),

final as (
    select
        *,
        coalesce(
            row_rejection_reason,
            case
                when row_number() over (
                    partition by row_rejection_reason is null, invitation_id
                    order by sent_at, raw_customer_id, survey_type
                ) > 1 then 'duplicate'
            end
        ) as rejection_reason
    from row_checked
)

select * from final
