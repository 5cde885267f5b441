{#-
    get_raw_columns(source_table): the columns of a raw table in file order, the
    one list the base models read (Fivetran's get_<table>_columns pattern). A base
    model collapses identical copies by grouping on all of them, and
    base_transactions__customers shapes its rows like a CRM export with them.
    retention_warehouse/contract.py states the same columns with their meaning;
    tests/python/test_landing_contract.py proves the two lists agree. Every raw
    column is text, so no data type is listed.
-#}
{% macro get_raw_columns(source_table) -%}
    {%- set columns = {
        'crm_customers': [
            'customer_id', 'email', 'phone', 'first_name', 'last_name', 'birth_date',
            'country_code', 'preferred_language', 'signup_at', 'acquisition_channel',
            'referred_by_customer_id', 'marketing_consent', 'is_test_account', 'updated_at',
        ],
        'crm_account_events': ['event_id', 'customer_id', 'event_type', 'event_at'],
        'transactions': [
            'transaction_id', 'order_id', 'customer_id', 'transaction_type', 'transaction_at',
            'amount', 'currency_code', 'status', 'sales_channel', 'store_id', 'items_count',
        ],
        'survey_invitations': ['invitation_id', 'customer_id', 'survey_type', 'sent_at'],
        'survey_responses': [
            'response_id', 'invitation_id', 'score', 'comment', 'exit_reason_code',
            'responded_at',
        ],
        'marketing_spend': [
            'spend_month', 'country_code', 'acquisition_channel', 'currency_code', 'spend_amount',
        ],
        'fx_rates': ['rate_date', 'currency_code', 'usd_per_unit'],
    } -%}
    {{ return(columns[source_table]) }}
{%- endmacro %}

{#-
    raw_column_list(source_table, indent): the raw columns as a comma-separated
    list, one per line, for a select list or a group by.
-#}
{% macro raw_column_list(source_table, indent=8) -%}
    {{ get_raw_columns(source_table) | join(',\n' ~ ' ' * indent) }}
{%- endmacro %}
