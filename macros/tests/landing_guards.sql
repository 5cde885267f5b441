{#-
    The landing guards (docs/metric_decisions.md, "Guards"), data tests on
    int_as_of_dates_resolved, so a failed guard skips every mart and a refresh
    publishes nothing. Each stops the run with one message saying what is wrong
    and what to do (a failing row count alone would not say it).
-#}

{#- The raw tables, their base model and the filter of rows that stand for raw rows. -#}
{% macro raw_table_bases() %}
    {{ return([
        ('transactions', 'int_transactions_linked', 'true'),
        ('crm_customers', 'base_crm__customers', 'not is_derived'),
        ('crm_account_events', 'base_crm__account_events', 'true'),
        ('survey_invitations', 'base_surveys__invitations', 'true'),
        ('survey_responses', 'base_surveys__responses', 'true'),
        ('marketing_spend', 'base_marketing__spend', 'true'),
        ('fx_rates', 'base_fx__rates', 'true'),
    ]) }}
{% endmacro %}

{#- What to do about the most frequent reason of a table's losses. -#}
{% macro quarantine_advice(table, reason) %}
    {%- if reason == 'missing_fx_rate' -%}
        {%- set base = 'base_marketing__spend' if table == 'marketing_spend'
            else 'int_transactions_linked' -%}
        {%- set date_column = 'spend_month' if table == 'marketing_spend' else 'transaction_date' -%}
        {%- set first = run_query("select cast(" ~ date_column ~ " as " ~ dbt.type_string() ~ "), currency_code from "
            ~ ref(base) ~ " where rejection_reason = 'missing_fx_rate' order by 1, 2 limit 1") -%}
        {%- set where = (" The first uncovered day is " ~ first.rows[0][0] ~ " in "
            ~ first.rows[0][1] ~ ".") if first.rows | length else "" -%}
        {{ return("No FX rate covers these rows (seed fx_rates runs 2022-12-01 to 2026-12-31)."
            ~ where ~ " Supply rates as RETENTION_RAW_DIR/fx_rates/*.csv with columns"
            ~ " rate_date,currency_code,usd_per_unit (US dollars per unit, one row per published"
            ~ " day; gaps up to fx_max_carry_days are carried forward), or report in that currency"
            ~ " (var reporting_currency): amounts in the reporting currency need no rate.") }}
    {%- endif -%}
    {%- set advice = {
        'malformed_row': "Rows have a wrong number of fields: raw._malformed_rows lists file and"
            ~ " line; fix the export (delimiter, quoting, a footer line).",
        'unparseable_date': "Timestamps must be ISO 8601 (e.g. 2025-06-15T10:00:00Z or"
            ~ " 2025-06-15) or DD/MM/YYYY HH:MM:SS +HHMM; convert the column in the export.",
        'missing_required_field': "Required columns are blank; see docs/raw_data_contract.md for"
            ~ " which columns every row needs (currency_code may default to var"
            ~ " default_currency_code).",
        'unknown_customer': "The customer_id is not in crm_customers; land the customer list"
            ~ " that covers these people (or land no crm_customers to derive customers from the"
            ~ " ledger).",
        'invalid_value': "Values break the value rules (numbers with at most the currency's"
            ~ " minor-unit decimals, no exponent or separators; booleans true/false/1/0/yes/no);"
            ~ " see docs/raw_data_contract.md.",
        'future_dated': "Rows are dated after the day their file landed; fix the dates (a typo in"
            ~ " the year?) or set var landing_date to the day the export was made.",
        'unknown_currency': "The currency is neither the reporting currency nor in the FX rates;"
            ~ " supply its rates in RETENTION_RAW_DIR/fx_rates/.",
    } -%}
    {{ return(advice.get(reason, "See staging.stg_quarantine__rejected_rows for the rows and"
        ~ " docs/raw_data_contract.md for the rules.")) }}
{% endmacro %}

{% test quarantine_within_limit(model) %}
    {#- Every relation is referenced outside `if execute`, so dbt sees the dependencies. -#}
    {%- set quarantine = ref('stg_quarantine__rejected_rows') -%}
    {%- set malformed = ref('base_landing__malformed_rows') -%}
    {%- set orders = ref('int_orders_accepted') -%}
    {%- set counts = [] -%}
    {%- for table, base, rows in raw_table_bases() -%}
        {%- do counts.append("select '" ~ table ~ "' as source_table, count(*)"
            ~ " + coalesce(sum(collapsed_copies), 0) as raw_rows from " ~ ref(base)
            ~ " where " ~ rows) -%}
    {%- endfor -%}
    {%- if execute -%}
        {%- set limit = var('max_quarantine_share') | float -%}
        {%- set shares = run_query(
            "with raw_counts as (select source_table, sum(raw_rows) as raw_rows from ("
            ~ counts | join(' union all ') ~ " union all select table_name, count(*) from "
            ~ malformed ~ " group by table_name) as per_part group by source_table),"
            ~ " lost as (select source_table, sum(raw_rows) as lost_rows from " ~ quarantine
            ~ " where reason_code not in ('exact_duplicate', 'superseded') group by source_table)"
            ~ " select raw_counts.source_table, cast(raw_counts.raw_rows as integer),"
            ~ " cast(coalesce(lost.lost_rows, 0) as integer) from raw_counts left join lost"
            ~ " using (source_table) where raw_counts.raw_rows > 0 order by 1") -%}
        {%- set min_rows = var('quarantine_guard_min_rows') | int -%}
        {#- A few rows of a small table (events of people whose CRM row lands tomorrow) are
            noise, not a lost table: fewer than quarantine_guard_min_rows lost rows count only
            when they are every row of the table. -#}
        {%- for table, raw_rows, lost_rows in shares.rows
                if (lost_rows | float) / (raw_rows | float) > limit
                and (lost_rows | int >= min_rows or lost_rows == raw_rows) -%}
            {%- set reasons = run_query("select reason_code, cast(sum(raw_rows) as integer) from "
                ~ quarantine ~ " where source_table = '" ~ table ~ "' and reason_code not in"
                ~ " ('exact_duplicate', 'superseded') group by 1 order by 2 desc, 1 limit 3") -%}
            {%- set listed = [] -%}
            {%- for reason, rows in reasons.rows -%}
                {%- do listed.append(reason ~ " " ~ rows) -%}
            {%- endfor -%}
            {{ exceptions.raise_compiler_error("Quarantine guard: " ~ table ~ " lost "
                ~ lost_rows ~ " of " ~ raw_rows ~ " raw rows ("
                ~ "%.1f" | format(100 * (lost_rows | float) / (raw_rows | float)) ~ "%, more than max_quarantine_share "
                ~ "%g" | format(100 * limit) ~ "%) to the quarantine; top reasons: "
                ~ listed | join(', ') ~ ". " ~ quarantine_advice(table, reasons.rows[0][0])
                ~ " (To accept the loss, raise var max_quarantine_share.)") }}
        {%- endfor -%}
        {%- set sales = run_query("select count(*) from " ~ orders) -%}
        {%- if sales.columns[0].values()[0] | int == 0 -%}
            {{ exceptions.raise_compiler_error("Quarantine guard: no clean sale is left in"
                ~ " transactions, so every mart would be empty. Land at least one sale (see"
                ~ " docs/raw_data_contract.md).") }}
        {%- endif -%}
    {%- endif -%}
    select 1 as guard from {{ model }}
    where false
{% endtest %}

{% test as_of_date_is_plausible(model) %}
    {%- if execute -%}
        {%- set row = run_query("select cast(as_of_date as " ~ dbt.type_string() ~ "), is_as_of_date_pinned,"
            ~ " cast(last_loaded_date as " ~ dbt.type_string() ~ "), cast(previous_loaded_date as " ~ dbt.type_string() ~ "),"
            ~ " cast(last_landed_date as " ~ dbt.type_string() ~ "),"
            ~ " cast(" ~ dbt.datediff("previous_loaded_date", "last_loaded_date", "day")
            ~ " as integer) from " ~ model).rows[0] -%}
        {%- set as_of, pinned, last_loaded, previous, last_landed, gap = row -%}
        {%- if as_of and last_landed and as_of > last_landed -%}
            {{ exceptions.raise_compiler_error("As-of guard: the as-of date " ~ as_of
                ~ " is after the last day a file landed (" ~ last_landed ~ "); no data can be"
                ~ " complete then. Pin an earlier as_of_date (or land the missing days).") }}
        {%- endif -%}
        {%- if not pinned and gap is not none and gap | int > var('as_of_max_gap_days') | int -%}
            {{ exceptions.raise_compiler_error("As-of guard: the latest clean transaction date "
                ~ last_loaded ~ " is " ~ gap ~ " days after the one before it (" ~ previous
                ~ "), more than as_of_max_gap_days (" ~ var('as_of_max_gap_days') ~ "), so one"
                ~ " stray date would move the as-of date for everyone. Check the transactions"
                ~ " dated after " ~ previous ~ " (a typo in the year?); if they are right, pin"
                ~ " --as-of-date or raise as_of_max_gap_days.") }}
        {%- endif -%}
    {%- endif -%}
    select 1 as guard from {{ model }}
    where false
{% endtest %}
