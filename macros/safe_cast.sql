{#-
    safe_cast(expression, data_type): cast raw text to a type, NULL when the
    value does not convert (never an error that stops the whole model).

    dbt's own dbt.safe_cast is a plain CAST on DuckDB, so one malformed value
    fails the model; staging uses this macro for every conversion of raw text.
-#}
{% macro safe_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('safe_cast', 'retention_warehouse')(expression, data_type)) }}
{%- endmacro %}

{#- DuckDB has try_cast. -#}
{% macro duckdb__safe_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{#- Adapters with a native TRY_CAST (Snowflake, SQL Server, Spark, Trino). -#}
{% macro default__safe_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}
