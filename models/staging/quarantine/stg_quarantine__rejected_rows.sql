{#- Every raw row that did not reach a clean staging model, with why. Each
    base model contributes its rejected rows (one per distinct raw row) and,
    for exact duplicate copies that were collapsed, one row per collapsed
    group with the number of copies in raw_rows. -#}
{%- set bases = [
    ('crm_customers', 'base_crm__customers', 'customer_id', 'customer_id', 'signup_at_raw'),
    ('crm_account_events', 'base_crm__account_events', 'event_id', 'raw_customer_id', 'event_at_raw'),
    ('transactions', 'base_transactions__transactions', 'transaction_id', 'raw_customer_id', 'transaction_at_raw'),
    ('survey_invitations', 'base_surveys__invitations', 'invitation_id', 'raw_customer_id', 'sent_at_raw'),
    ('survey_responses', 'base_surveys__responses', 'response_id', 'customer_id', 'responded_at_raw'),
    ('marketing_spend', 'base_marketing__spend', "spend_month_raw || '|' || country_code || '|' || acquisition_channel", 'cast(null as varchar)', 'spend_month_raw'),
] -%}

with

{% for source_table, base, record_id, customer_id, event_at in bases %}
    {{ source_table }} as (
        select
            '{{ source_table }}' as source_table,
            cast({{ record_id }} as varchar) as record_id,
            cast({{ customer_id }} as varchar) as customer_id,
            cast({{ event_at }} as varchar) as event_at_raw,
            rejection_reason,
            collapsed_copies,
            source_file
        from {{ ref(base) }}
    ),

{% endfor %}
unioned as (
    {% for source_table, base, record_id, customer_id, event_at in bases %}
        select * from {{ source_table }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

rejected as (
    select
        source_table,
        record_id,
        customer_id,
        event_at_raw,
        rejection_reason as reason_code,
        1 as raw_rows,
        source_file
    from unioned
    where rejection_reason is not null
),

collapsed_duplicates as (
    select
        source_table,
        record_id,
        customer_id,
        event_at_raw,
        'exact_duplicate' as reason_code,
        collapsed_copies as raw_rows,
        source_file
    from unioned
    where collapsed_copies > 0
),

final as (
    select * from rejected
    union all
    select * from collapsed_duplicates
)

select * from final
