with

events as (
    select * from {{ ref('base_crm__account_events') }}
),

final as (
    select
        event_id,
        customer_id,
        event_type,
        event_at,
        cast(event_at as date) as event_date,
        is_test_account
    from events
    where rejection_reason is null
)

select * from final
