with

responses as (
    select * from {{ ref('base_surveys__responses') }}
),

final as (
    select
        response_id,
        invitation_id,
        customer_id,
        survey_type,
        score,
        comment,
        exit_reason_code,
        exit_reason_category,
        responded_at,
        cast(responded_at as date) as response_date,
        is_test_account
    from responses
    where rejection_reason is null
)

select * from final
