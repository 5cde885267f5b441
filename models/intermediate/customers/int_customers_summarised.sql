-- One row per real (non-test) CRM person: attributes, purchase summary as of
-- the as-of date, and the date their account was closed (closure or erasure
-- request, whichever came first). People with no purchase are leads.
-- A table, not a view: customer_key is keyed with the RETENTION_HASH_KEY
-- secret (macros/hash_pii.sql).
with

customers as (
    select * from {{ ref('stg_crm__customers') }}
),

events as (
    select * from {{ ref('stg_crm__account_events') }}
),

orders as (
    select * from {{ ref('int_orders_netted') }}
),

country_regions as (
    select * from {{ ref('country_regions') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

purchases as (
    select
        customer_id,
        min(order_date) as first_purchase_date,
        max(order_date) as last_purchase_date,
        count(*) as purchases,
        cast(sum(net_revenue) as decimal(18, 2)) as net_revenue
    from orders
    where is_purchase
    group by customer_id
),

closures as (
    select
        events.customer_id,
        min(events.event_date) as closed_date
    from events
    cross join as_of
    where events.event_date <= as_of.as_of_date
    group by events.customer_id
),

final as (
    select
        customers.customer_id,
        customers.country_code,
        -- A country the seed does not know (or none) is region unknown.
        coalesce(country_regions.region, 'unknown') as region,
        customers.preferred_language,
        customers.acquisition_channel,
        customers.acquisition_channel = 'referral' as is_referred,
        customers.referred_by_customer_id,
        customers.has_marketing_consent,
        customers.is_erased,
        customers.signup_date,
        purchases.first_purchase_date,
        purchases.first_purchase_date as acquisition_date,
        purchases.last_purchase_date,
        coalesce(purchases.purchases, 0) as purchases,
        coalesce(purchases.net_revenue, 0) as net_revenue,
        purchases.customer_id is null as is_lead,
        closures.closed_date,
        -- The join key the marts expose, hashed once per person here and
        -- carried by the customer x month and x period models (an HMAC per
        -- row there cost more than the rest of those models' SQL).
        {{ hash_pii('customers.customer_id') }} as customer_key
    from customers
    cross join as_of
    left join country_regions
        on customers.country_code = country_regions.country_code
    left join purchases
        on customers.customer_id = purchases.customer_id
    left join closures
        on customers.customer_id = closures.customer_id
    where
        not customers.is_test_account
        and customers.signup_date <= as_of.as_of_date
)

select * from final
