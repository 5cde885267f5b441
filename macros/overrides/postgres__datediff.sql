{#- Override of dbt-postgres 1.11.0's postgres__datediff (dbt-adapters 1.24.5). -#}

{#-
    dbt.datediff on PostgreSQL (overrides dbt-postgres's postgres__datediff: dbt
    looks in the root project first for macros of the dbt namespace).
    Why it differs: DuckDB's date_diff returns BIGINT, PostgreSQL's date - date an
    INTEGER (and date_part a double precision), so the column types, and the
    marts' enforced contracts (bigint), would differ between engines. Same
    computation as dbt-postgres (calendar boundaries crossed), cast to bigint.
-#}
{% macro postgres__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
        cast((cast({{ second_date }} as date) - cast({{ first_date }} as date)) as bigint)
    {%- elif datepart in ('year', 'quarter', 'month') -%}
        {#- Calendar boundaries crossed, as DuckDB's date_diff: the difference of
            the dates' period indexes (year * 12 + month - 1) / months per part. -#}
        {%- set months_per_part = {'year': 12, 'quarter': 3, 'month': 1}[datepart] -%}
        cast(
            floor((date_part('year', cast({{ second_date }} as date)) * 12
                + date_part('month', cast({{ second_date }} as date)) - 1) / {{ months_per_part }})
            - floor((date_part('year', cast({{ first_date }} as date)) * 12
                + date_part('month', cast({{ first_date }} as date)) - 1) / {{ months_per_part }})
            as bigint
        )
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "datediff on PostgreSQL: datepart '" ~ datepart ~ "' is not implemented in macros/overrides/postgres__datediff.sql (day, month, quarter, year are)") }}
    {%- endif -%}
{%- endmacro %}
