-- Every CRM customer_id that belongs to a clean person, mapped to the
-- surviving id of that person (a person entered twice keeps one id).
with

customers as (
    select * from {{ ref('base_crm__customers') }}
),

survivors as (
    select
        customer_id,
        is_test_account,
        is_erasure_requested
    from customers
    where rejection_reason is null
),

final as (
    select distinct
        customers.customer_id,
        customers.survivor_customer_id,
        survivors.is_test_account,
        survivors.is_erasure_requested
    from customers
    inner join survivors
        on customers.survivor_customer_id = survivors.customer_id
)

select * from final
