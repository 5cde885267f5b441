-- Every raw erasure request, by the customer id it names, read straight from
-- the raw events. base_crm__customers needs the list to blank personal data,
-- and base_crm__account_events depends on the customers (for surviving ids),
-- so the list cannot come from there. A request counts whatever its timestamp
-- says (even when it is unreadable) and whatever the as-of date: a pinned
-- rebuild of the past must not bring erased data back.
with

source as (
    select * from {{ source('crm', 'crm_account_events') }}
),

requests as (
    select
        nullif(trim(customer_id), '') as customer_id,
        {{ parse_timestamp_utc('trim(event_at)') }} as event_at
    from source
    where lower(trim(event_type)) = 'erasure_request'
),

final as (
    select
        customer_id,
        min(event_at) as first_requested_at,
        count(*) as raw_requests
    from requests
    where customer_id is not null
    group by customer_id
)

select * from final
