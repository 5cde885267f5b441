{#- Every raw line that did not reach a clean staging model, with why. Each
    base model contributes its rejected rows (one per distinct raw row) and,
    for exact duplicate copies that were collapsed, one row per collapsed
    group with the number of copies in raw_rows; lines that could not be read
    as rows at all come from the landing record as malformed_row. A row
    without its key is identified by a hash of its file and values, so no
    record_id is NULL. -#}
{%- set bases = [
    ('crm_customers', 'base_crm__customers', 'customer_id',
        ['signup_at_raw', 'email'], 'customer_id', 'signup_at_raw'),
    ('crm_account_events', 'base_crm__account_events', 'event_id',
        ['raw_customer_id', 'event_type', 'event_at_raw'], 'raw_customer_id', 'event_at_raw'),
    ('transactions', 'int_transactions_linked', 'transaction_id',
        ['raw_customer_id', 'transaction_type', 'transaction_at_raw', 'amount_raw', 'currency_code'],
        'raw_customer_id', 'transaction_at_raw'),
    ('survey_invitations', 'base_surveys__invitations', 'invitation_id',
        ['raw_customer_id', 'survey_type', 'sent_at_raw'], 'raw_customer_id', 'sent_at_raw'),
    ('survey_responses', 'base_surveys__responses', 'response_id',
        ['invitation_id', 'score_raw', 'responded_at_raw'], 'customer_id', 'responded_at_raw'),
    ('marketing_spend', 'base_marketing__spend',
        "spend_month_raw || '|' || coalesce(country_code, '') || '|' || acquisition_channel",
        ['spend_month_raw', 'country_code', 'acquisition_channel', 'currency_code', 'spend_amount_raw'],
        'cast(null as ' ~ dbt.type_string() ~ ')', 'spend_month_raw'),
    ('fx_rates', 'base_fx__rates', "rate_date_raw || '|' || currency_code",
        ['rate_date_raw', 'currency_code', 'usd_per_unit_raw'], 'cast(null as ' ~ dbt.type_string() ~ ')', 'rate_date_raw'),
] -%}

with

{% for source_table, base, record_id, hashed, customer_id, event_at in bases %}
    {{ source_table }} as (
        select
            '{{ source_table }}' as source_table,
            coalesce(
                cast({{ record_id }} as {{ dbt.type_string() }}),
                'row ' || md5(
                    coalesce(source_file, '')
                    {%- for column in hashed %}
                        || '|'
                        || coalesce(
                            cast({{ column }} as {{ dbt.type_string() }}), ''
                        )
                    {%- endfor %}
                )
            ) as record_id,
            cast({{ customer_id }} as {{ dbt.type_string() }}) as customer_id,
            cast({{ event_at }} as {{ dbt.type_string() }}) as event_at_raw,
            rejection_reason,
            collapsed_copies,
            source_file
        from {{ ref(base) }}
    ),

{% endfor %}
malformed_rows as (
    select * from {{ ref('base_landing__malformed_rows') }}
),

unioned as (
    {% for source_table in bases | map(attribute=0) %}
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

malformed as (
    select
        table_name as source_table,
        record_id,
        cast(null as {{ dbt.type_string() }}) as customer_id,
        cast(null as {{ dbt.type_string() }}) as event_at_raw,
        'malformed_row' as reason_code,
        1 as raw_rows,
        file_path as source_file
    from malformed_rows
),

final as (
    select * from rejected
    union all
    select * from collapsed_duplicates
    union all
    select * from malformed
)

select * from final
