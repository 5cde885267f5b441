{#- One row per CRM person: a fingerprint of everything the incremental
    customer models read about them, dated on or before the as-of date, and
    when it last changed. A run writes only the people whose fingerprint
    changed (new, changed or gone: gone people keep a row with is_removed);
    changed_at tells the models downstream which customers to rebuild
    (macros/incremental_slice.sql). -#}
{{ config(
    materialized=refresh_materialization(),
    incremental_strategy='delete+insert',
    unique_key='customer_id',
    on_schema_change='fail',
) }}

with

{% if is_incremental() -%}
    stored as (
        select * from {{ this }}
    ),

{% endif -%}
customers as (
    select * from {{ ref('stg_crm__customers') }}
),

events as (
    select * from {{ ref('stg_crm__account_events') }}
),

-- The accepted orders are imported once per use: DuckDB stores a CTE that is
-- read twice before reading it (15.7 M order rows at 1M customers), while one
-- read once is folded into its query.
orders as (
    select * from {{ ref('int_orders_accepted') }}
),

orders_of_refunds as (
    select * from {{ ref('int_orders_accepted') }}
),

refunds as (
    select * from {{ ref('int_refunds_accepted') }}
),

invitations as (
    select * from {{ ref('stg_surveys__invitations') }}
),

responses as (
    select * from {{ ref('stg_surveys__responses') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

-- The settings every state and tier depends on: a change rebuilds everyone.
-- The hash key is among them (customer_key is written with the rows): its
-- HMAC of a constant changes with the key and reveals nothing of it.
settings as (
    select
        {{ row_fingerprint(
            "'" ~ var('retention_grain') ~ "|" ~ var('churn_inactivity_days')
            ~ "|" ~ var('at_risk_days') ~ "|" ~ var('reporting_currency') ~ "|' || "
            ~ hash_pii("'int_customers_fingerprinted'")
        ) }} as settings_fingerprint
),

-- Every CRM person, signed up by the as-of date or not (whether they are
-- part of the fingerprint: signing up later is a change).
profiles as (
    select
        customers.customer_id,
        {{ row_fingerprint(
            'row(customers, customers.signup_date <= as_of.as_of_date)') }}
            as profile_fingerprint
    from customers
    cross join as_of
),

order_rows as (
    select
        orders.customer_id,
        count(*) as orders_in_scope,
        sum({{ row_fingerprint('orders') }}) as orders_fingerprint
    from orders
    cross join as_of
    where orders.order_date <= as_of.as_of_date
    group by orders.customer_id
),

-- A refund belongs to its order's customer (as in int_orders_netted).
refund_rows as (
    select
        orders_of_refunds.customer_id,
        sum({{ row_fingerprint('refunds') }}) as refunds_fingerprint
    from refunds
    cross join as_of
    inner join orders_of_refunds
        on refunds.order_id = orders_of_refunds.order_id
    where refunds.refund_date <= as_of.as_of_date
    group by orders_of_refunds.customer_id
),

event_rows as (
    select
        events.customer_id,
        sum({{ row_fingerprint('events') }}) as events_fingerprint
    from events
    cross join as_of
    where events.event_date <= as_of.as_of_date
    group by events.customer_id
),

survey_rows as (
    select
        invitations.customer_id,
        {{ row_fingerprint('invitations') }} as survey_fingerprint
    from invitations
    cross join as_of
    where invitations.sent_date <= as_of.as_of_date
    union all
    select
        responses.customer_id,
        {{ row_fingerprint('responses') }} as survey_fingerprint
    from responses
    cross join as_of
    where responses.response_date <= as_of.as_of_date
),

surveys as (
    select
        customer_id,
        sum(survey_fingerprint) as surveys_fingerprint
    from survey_rows
    group by customer_id
),

current_fingerprints as (
    select
        profiles.customer_id,
        {{ row_fingerprint(
            'row(settings.settings_fingerprint, profiles.profile_fingerprint, '
            ~ 'coalesce(order_rows.orders_in_scope, 0), '
            ~ 'coalesce(order_rows.orders_fingerprint, 0), '
            ~ 'coalesce(refund_rows.refunds_fingerprint, 0), '
            ~ 'coalesce(event_rows.events_fingerprint, 0), '
            ~ 'coalesce(surveys.surveys_fingerprint, 0))'
        ) }} as fingerprint
    from profiles
    cross join settings
    left join order_rows
        on profiles.customer_id = order_rows.customer_id
    left join refund_rows
        on profiles.customer_id = refund_rows.customer_id
    left join event_rows
        on profiles.customer_id = event_rows.customer_id
    left join surveys
        on profiles.customer_id = surveys.customer_id
),

changed as (
    select
        current_fingerprints.customer_id,
        current_fingerprints.fingerprint,
        false as is_removed
    from current_fingerprints
    {% if is_incremental() -%}
        left join stored
            on
                current_fingerprints.customer_id = stored.customer_id
                and not stored.is_removed
        where
            stored.customer_id is null
            or stored.fingerprint != current_fingerprints.fingerprint
        union all
        select
            stored.customer_id,
            stored.fingerprint,
            true as is_removed
        from stored
        left join current_fingerprints
            on stored.customer_id = current_fingerprints.customer_id
        where
            not stored.is_removed
            and current_fingerprints.customer_id is null
    {%- endif %}
),

final as (
    select
        customer_id,
        fingerprint,
        is_removed,
        {{ refreshed_at_literal() }} as changed_at
    from changed
)

select * from final
