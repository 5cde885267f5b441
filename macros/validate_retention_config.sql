{#-
    Runs at the start of every dbt invocation: a configuration that would make
    the metrics wrong stops the run with a clear message.
-#}
{% macro validate_retention_config() %}
    {%- set days_in_grain = {'month': 31, 'quarter': 92, 'year': 366} -%}
    {%- set grain_length = days_in_grain[var('retention_grain')] if var('retention_grain') in days_in_grain else none -%}
    {%- if grain_length is none -%}
        {{ exceptions.raise_compiler_error(
            "var retention_grain must be month, quarter or year, got '" ~ var('retention_grain') ~ "'") }}
    {%- endif -%}
    {%- if var('churn_inactivity_days') | int < grain_length -%}
        {{ exceptions.raise_compiler_error(
            "var churn_inactivity_days (" ~ var('churn_inactivity_days') ~ ") must be at least the length of the "
            ~ var('retention_grain') ~ " grain (" ~ grain_length ~ " days): a customer could otherwise churn and "
            ~ "come back inside one period, and the period identities would not hold.") }}
    {%- endif -%}
    {%- if var('at_risk_days') | int >= var('churn_inactivity_days') | int -%}
        {{ exceptions.raise_compiler_error(
            "var at_risk_days (" ~ var('at_risk_days') ~ ") must be below churn_inactivity_days ("
            ~ var('churn_inactivity_days') ~ ").") }}
    {%- endif -%}
    {%- if var('clv_time_unit') not in ('day', 'week', 'month') -%}
        {{ exceptions.raise_compiler_error(
            "var clv_time_unit must be day, week or month, got '" ~ var('clv_time_unit') ~ "'") }}
    {%- endif -%}
    {%- set discount = var('clv_monthly_discount_rate') | string -%}
    {%- if modules.re.match('^\d+(\.\d+)?$', discount) is none or discount | float >= 1 -%}
        {{ exceptions.raise_compiler_error(
            "var clv_monthly_discount_rate must be a number from 0 up to (not including) 1, "
            ~ "e.g. 0.01 for 1 % a month, got '" ~ discount ~ "'") }}
    {%- endif -%}
    {%- set as_of = as_of_date_setting() -%}
    {%- if as_of and modules.re.match('^\d{4}-\d{2}-\d{2}$', as_of | string) is none -%}
        {{ exceptions.raise_compiler_error("var as_of_date (or RETENTION_AS_OF_DATE) must be YYYY-MM-DD, got '" ~ as_of ~ "'") }}
    {%- endif -%}
    {%- set default_currency = var('default_currency_code', '') | string -%}
    {%- if default_currency and modules.re.match('^[A-Za-z]{3}$', default_currency) is none -%}
        {{ exceptions.raise_compiler_error("var default_currency_code must be a three-letter ISO 4217 code"
            ~ " (or empty), got '" ~ default_currency ~ "'") }}
    {%- endif -%}
    {%- if modules.re.match('^\d+$', var('fx_max_carry_days') | string) is none -%}
        {{ exceptions.raise_compiler_error("var fx_max_carry_days must be a whole number of days, got '"
            ~ var('fx_max_carry_days') ~ "'") }}
    {%- endif -%}
    {%- if modules.re.match('^\d+$', var('as_of_max_gap_days') | string) is none -%}
        {{ exceptions.raise_compiler_error("var as_of_max_gap_days must be a whole number of days, got '"
            ~ var('as_of_max_gap_days') ~ "'") }}
    {%- endif -%}
    {%- if modules.re.match('^\d+$', var('quarantine_guard_min_rows') | string) is none -%}
        {{ exceptions.raise_compiler_error("var quarantine_guard_min_rows must be a whole number,"
            ~ " got '" ~ var('quarantine_guard_min_rows') ~ "'") }}
    {%- endif -%}
    {%- set share = var('max_quarantine_share') | string -%}
    {%- if modules.re.match('^(0(\.\d+)?|1(\.0+)?)$', share) is none -%}
        {{ exceptions.raise_compiler_error("var max_quarantine_share must be a share between 0 and 1"
            ~ " (0.05 = 5 %), got '" ~ share ~ "'") }}
    {%- endif -%}
    select 1
{% endmacro %}
