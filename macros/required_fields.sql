{#-
    The required columns of each raw table: every file must have them and no row may
    leave them blank (staging: missing_required_field). This is the contract's one
    list of required-ness: retention_warehouse/contract.py, docs/raw_data_contract.md
    and the sources' column meta say the same, and
    tests/python/test_landing_contract.py proves they agree. (A macro, not the
    sources' meta, because dbt unit tests have no graph to read the meta from.)
-#}
{% macro raw_required_columns(source_table) -%}
    {%- set required = {
        'crm_customers': ['customer_id', 'signup_at'],
        'crm_account_events': ['event_id', 'customer_id', 'event_type', 'event_at'],
        'transactions': ['order_id', 'customer_id', 'transaction_at', 'amount', 'currency_code'],
        'survey_invitations': ['invitation_id', 'customer_id', 'survey_type', 'sent_at'],
        'survey_responses': ['response_id', 'invitation_id', 'responded_at'],
        'marketing_spend': ['spend_month', 'acquisition_channel', 'currency_code', 'spend_amount'],
        'fx_rates': ['rate_date', 'currency_code', 'usd_per_unit'],
    } -%}
    {#- A column that a set var makes optional (its value is the default). -#}
    {%- set optional_when_var_set = {'transactions': {'currency_code': 'default_currency_code'}} -%}
    {%- set unless = optional_when_var_set.get(source_table, {}) -%}
    {%- set columns = [] -%}
    {%- for column in required[source_table] -%}
        {%- if not (column in unless and var(unless[column], '')) -%}
            {%- do columns.append(column) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#-
    has_blank_required_field(source_table): true when any required column of the
    raw table is blank in the row. Written against the raw column names, so use it
    where they are in scope; `relation` qualifies them when a join makes them
    ambiguous.
-#}
{% macro has_blank_required_field(source_table, relation='') -%}
    {%- set columns = raw_required_columns(source_table) -%}
    ( -- required columns of {{ source_table }}
    {%- for column in columns %}
        {{ 'or ' if not loop.first }}nullif(trim({{ relation ~ '.' if relation }}{{ column }}), '') is null
    {%- endfor %}
    )
{%- endmacro %}
