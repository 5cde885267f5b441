with

invitations as (
    select * from {{ ref('base_surveys__invitations') }}
),

final as (
    select
        invitation_id,
        customer_id,
        survey_type,
        sent_at,
        cast(sent_at as date) as sent_date,
        is_test_account
    from invitations
    where rejection_reason is null
)

select * from final
