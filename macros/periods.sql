{#-
    Period helpers: every period metric uses these, so the grain (var
    retention_grain: month | quarter | year) is decided in one place.
-#}
{% macro grain_months() -%}
    {%- set grains = {'month': 1, 'quarter': 3, 'year': 12} -%}
    {%- set grain = var('retention_grain') -%}
    {%- if grain not in grains -%}
        {{ exceptions.raise_compiler_error(
            "var retention_grain must be month, quarter or year, got '" ~ grain ~ "'") }}
    {%- endif -%}
    {{ return(grains[grain]) }}
{%- endmacro %}

{#- The first day of the period holding a date. -#}
{% macro period_start(date_expression) -%}
    cast({{ dbt.date_trunc(var('retention_grain'), date_expression) }} as date)
{%- endmacro %}

{#- The last day of the period starting on a period start. -#}
{% macro period_end(period_start_expression) -%}
    cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', grain_months(), period_start_expression)) }} as date)
{%- endmacro %}

{#- The first day of the month holding a date. -#}
{% macro month_start(date_expression) -%}
    cast({{ dbt.date_trunc('month', date_expression) }} as date)
{%- endmacro %}

{#- A date shifted by a number of days, as a date. -#}
{% macro add_days(date_expression, days) -%}
    cast({{ dbt.dateadd('day', days, date_expression) }} as date)
{%- endmacro %}

{#- A date shifted by a number of months, as a date. -#}
{% macro add_months(date_expression, months) -%}
    cast({{ dbt.dateadd('month', months, date_expression) }} as date)
{%- endmacro %}
