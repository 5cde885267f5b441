-- Nobody named in an erasure request keeps personal data in staging: rows of
-- the named ids and of the persons they belong to hold no e-mail, phone,
-- name or birth date, and no survey comment of theirs is kept. Checked against
-- the raw request list, not the is_erasure_requested flag the models set.
-- (tests/python/test_erasure.py scans every table and view for the values.)
with

requests as (
    select * from {{ ref('base_crm__erasure_requests') }}
),

customers as (
    select * from {{ ref('base_crm__customers') }}
),

customer_ids as (
    select * from {{ ref('stg_crm__customer_ids') }}
),

clean_customers as (
    select * from {{ ref('stg_crm__customers') }}
),

invitations as (
    select * from {{ ref('base_surveys__invitations') }}
),

responses as (
    select * from {{ ref('base_surveys__responses') }}
),

named_people as (
    select customer_ids.survivor_customer_id as customer_id
    from customer_ids
    inner join requests
        on customer_ids.customer_id = requests.customer_id
    union
    select requests.customer_id from requests
),

crm_leaks as (
    select
        'base_crm__customers' as model_name,
        customers.customer_id as record_id
    from customers
    where
        (
            customers.customer_id in (
                select named_people.customer_id from named_people
            )
            or customers.survivor_customer_id in (
                select named_people.customer_id from named_people
            )
        )
        and coalesce(
            customers.email, customers.phone, customers.first_name,
            customers.last_name,
            cast(customers.birth_date as {{ dbt.type_string() }})
        ) is not null
),

clean_leaks as (
    select
        'stg_crm__customers' as model_name,
        customer_id as record_id
    from clean_customers
    where
        customer_id in (select named_people.customer_id from named_people)
        and coalesce(
            email, email_hash, phone, first_name, last_name,
            cast(birth_date as {{ dbt.type_string() }})
        ) is not null
),

comment_leaks as (
    select
        'base_surveys__responses' as model_name,
        responses.response_id as record_id
    from responses
    inner join invitations
        on responses.invitation_id = invitations.invitation_id
    where
        invitations.customer_id in (
            select named_people.customer_id from named_people
        )
        and responses.comment is not null
),

final as (
    select * from crm_leaks
    union all
    select * from clean_leaks
    union all
    select * from comment_leaks
)

select * from final
