{{ config(materialized='table') }}

with

source as (
    select * from {{ source('surveys', 'survey_responses') }}
),

invitation_rows as (
    select * from {{ ref('base_surveys__invitations') }}
),

customer_ids as (
    select * from {{ ref('stg_crm__customer_ids') }}
),

invitations as (
    select * from invitation_rows
    where rejection_reason is null
),

exit_reasons as (
    select * from {{ ref('exit_reasons') }}
),

survey_types as (
    select * from {{ ref('survey_types') }}
),

collapsed as (
    select
        {{ raw_column_list('survey_responses') }},
        min(_source_file) as source_file,
        count(*) - 1 as collapsed_copies
    from source
    group by
        {{ raw_column_list('survey_responses') }}
),

-- Invitations sent to people who asked for erasure (any of their ids): the
-- free-text comments answering them are not kept, here or anywhere downstream.
erased_invitations as (
    select distinct invitation_rows.invitation_id
    from invitation_rows
    inner join customer_ids
        on invitation_rows.raw_customer_id = customer_ids.customer_id
    where customer_ids.is_erasure_requested
),

erasure_applied as (
    select
        collapsed.response_id,
        collapsed.invitation_id,
        collapsed.score,
        case
            when erased_invitations.invitation_id is null then collapsed.comment
        end as comment,  -- noqa: RF04
        collapsed.exit_reason_code,
        collapsed.responded_at,
        collapsed.source_file,
        collapsed.collapsed_copies
    from collapsed
    left join erased_invitations
        on trim(collapsed.invitation_id) = erased_invitations.invitation_id
),

typed as (
    select
        {{ has_blank_required_field('survey_responses') }}
            as has_blank_required_field,
        nullif(trim(response_id), '') as response_id,
        nullif(trim(invitation_id), '') as invitation_id,
        nullif(trim(score), '') as score_raw,
        {{ parse_integer("nullif(trim(score), '')") }} as score,
        nullif(trim(comment), '') as comment,  -- noqa: RF04
        nullif(lower(trim(exit_reason_code)), '') as exit_reason_code,
        nullif(trim(responded_at), '') as responded_at_raw,
        {{ parse_timestamp_utc("nullif(trim(responded_at), '')") }}
            as responded_at,
        source_file,
        collapsed_copies
    from erasure_applied
),

row_checked as (
    select
        typed.*,
        invitations.customer_id,
        invitations.survey_type,
        invitations.sent_at,
        coalesce(invitations.is_test_account, false) as is_test_account,
        exit_reasons.reason_category as exit_reason_category,
        case
            when typed.has_blank_required_field then 'missing_required_field'
            when typed.responded_at is null then 'unparseable_date'
            when invitations.invitation_id is null then 'unknown_invitation'
            when
                typed.score_raw is not null and typed.score is null
                then 'invalid_value'
            -- The range of the survey type (seed survey_types); a type without
            -- one (exit) has no score.
            when
                (survey_types.min_score is null and typed.score is not null)
                or (
                    survey_types.min_score is not null
                    and (
                        typed.score is null
                        or typed.score not between survey_types.min_score
                        and survey_types.max_score
                    )
                )
                then 'score_out_of_range'
            when
                typed.exit_reason_code is not null
                and exit_reasons.reason_code is null
                then 'invalid_value'
        end as row_rejection_reason
    from typed
    left join invitations
        on typed.invitation_id = invitations.invitation_id
    left join survey_types
        on invitations.survey_type = survey_types.survey_type
    left join exit_reasons
        on typed.exit_reason_code = exit_reasons.reason_code
),

-- At most one response per invitation (and per response_id): the earliest
-- answer counts, later ones are duplicates.
final as (
    select
        *,
        coalesce(
            row_rejection_reason,
            case
                when row_number() over (
                    partition by row_rejection_reason is null, response_id
                    order by responded_at, invitation_id
                ) > 1 then 'duplicate'
                when row_number() over (
                    partition by row_rejection_reason is null, invitation_id
                    order by responded_at, response_id
                ) > 1 then 'duplicate'
            end
        ) as rejection_reason
    from row_checked
)

select * from final
