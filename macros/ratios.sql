{#- A double-precision float on every adapter. dbt's type_float() is a
    4-byte REAL on DuckDB, too coarse for rates compared to 1e-9. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'retention_warehouse')()) }}
{%- endmacro %}

{% macro duckdb__type_double() -%}
    double
{%- endmacro %}

{% macro default__type_double() -%}
    double precision
{%- endmacro %}

{#- numerator / denominator x scale as a double; NULL (never 0, never a
    division error) when the denominator is 0 or NULL. Every rate in the marts
    goes through this macro. -#}
{% macro safe_ratio(numerator, denominator, scale=1) -%}
    case
        when {{ denominator }} > 0
            then {{ scale }} * cast({{ numerator }} as {{ type_double() }})
            / {{ denominator }}
    end
{%- endmacro %}

{#- A percentage: numerator / denominator x 100, NULL when undefined. -#}
{% macro safe_pct(numerator, denominator) -%}
    {{ safe_ratio(numerator, denominator, 100) }}
{%- endmacro %}

{#- Spark: the 8-byte float is `double` (no `double precision`). -#}
{% macro spark__type_double() -%}
    double
{%- endmacro %}
