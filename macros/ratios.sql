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

{#- The mean of an exact (decimal) column as a double, NULL when it has no
    values. DuckDB's avg of a decimal is a double already; Spark's is a decimal
    rounded to 4 more places than the column (12.5 / 3 is 4.166667, not
    4.1666...), so Spark divides the exact sum as a double instead. -#}
{% macro average_double(expression) -%}
    {{ return(adapter.dispatch('average_double', 'retention_warehouse')(expression)) }}
{%- endmacro %}

{% macro default__average_double(expression) -%}
    cast(avg({{ expression }}) as {{ type_double() }})
{%- endmacro %}

{% macro spark__average_double(expression) -%}
    {{ safe_ratio('sum(' ~ expression ~ ')', 'count(' ~ expression ~ ')') }}
{%- endmacro %}

{#- Spark: the 8-byte float is `double` (no `double precision`). -#}
{% macro spark__type_double() -%}
    double
{%- endmacro %}
