{#-
    fail_query(message_expression): an expression that stops the running query
    with the given text as its error message (used where a data condition must
    fail the build with one clear line, e.g. int_value_models_checked). Put it
    in a CASE branch that is only reached when the build must stop.
-#}
{% macro fail_query(message_expression) -%}
    {{ return(adapter.dispatch('fail_query', 'retention_warehouse')(message_expression)) }}
{%- endmacro %}

{#- DuckDB: error(message) raises "Invalid Input Error: <message>". -#}
{% macro duckdb__fail_query(message_expression) -%}
    error({{ message_expression }})
{%- endmacro %}

{#- Spark SQL 3.1+ has the same function as raise_error(message). -#}
{% macro spark__fail_query(message_expression) -%}
    raise_error({{ message_expression }})
{%- endmacro %}

{#- Only the value models use it, and they run where dbt runs Python models;
    an engine that gains them needs its own variant. Disabled models are still
    parsed, so this stops only a model that runs (execute), never parsing. -#}
{% macro default__fail_query(message_expression) -%}
    {%- if execute -%}
        {{ exceptions.raise_compiler_error(
            "fail_query has no variant for adapter '" ~ adapter.type() ~ "': add "
            ~ adapter.type() ~ "__fail_query to macros/fail_query.sql") }}
    {%- endif -%}
    cast(null as boolean)
{%- endmacro %}
