{% snapshot snap_customer_tiers %}

{{ config(
    unique_key='customer_key',
    strategy='timestamp',
    updated_at='current_tier_since',
    dbt_valid_to_current="cast('9999-12-31' as timestamp)",
) }}

    select
        customer_key,
        current_tier,
        cast(current_tier_since as timestamp) as current_tier_since
    from {{ ref('dim_customers') }}
    where current_tier is not null

{% endsnapshot %}
