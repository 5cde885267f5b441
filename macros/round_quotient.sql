{#-
    round_quotient(numerator, denominator, scale=2): numerator / denominator
    rounded to `scale` decimals half away from zero, exactly, as a decimal (the
    decision log's rounding of money, e.g. CAC = spend / customers acquired).
    The numerator is a decimal with at most `scale` decimals (money), the
    denominator an integer (a count). NULL when either is NULL.

    Why it is dispatched: DuckDB divides decimals in DOUBLE, so a tie such as
    33.37 / 2 = 16.685 becomes 16.68499999... and round() gives 16.68, where
    exact arithmetic (PostgreSQL's numeric, Snowflake, BigQuery) gives 16.69.
    On DuckDB the quotient is computed in integer units of 10^-scale instead.
-#}
{% macro round_quotient(numerator, denominator, scale=2) -%}
    {{ return(adapter.dispatch('round_quotient', 'retention_warehouse')(
        numerator, denominator, scale)) }}
{%- endmacro %}

{#- Integer arithmetic: (2|u| + |d|) // (2|d|) is |u / d| rounded half up. -#}
{% macro duckdb__round_quotient(numerator, denominator, scale=2) -%}
    (
        sign({{ numerator }}) * sign({{ denominator }})
        * (
            (2 * abs(cast({{ numerator }} * {{ 10 ** scale }} as hugeint))
                + abs({{ denominator }}))
            // (2 * abs({{ denominator }}))
        )
        * cast({{ 10 ** -scale }} as decimal(18, {{ scale }}))
    )
{%- endmacro %}

{#- Engines whose decimal division is exact: round() rounds half away from zero. -#}
{% macro default__round_quotient(numerator, denominator, scale=2) -%}
    round({{ numerator }} / {{ denominator }}, {{ scale }})
{%- endmacro %}

{#- Spark: decimal / integer is an exact decimal (scale >= 6, 22 here) and round()
    rounds half up (away from zero), so the plain form is exact, as on PostgreSQL;
    cast back to the money type, as DuckDB's variant returns decimal(18, scale). -#}
{% macro spark__round_quotient(numerator, denominator, scale=2) -%}
    cast(round({{ numerator }} / {{ denominator }}, {{ scale }}) as decimal(18, {{ scale }}))
{%- endmacro %}
