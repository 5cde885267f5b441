{#- Override of dbt-adapters 1.24.5's default__get_unit_test_sql (copied, then
    changed as described below). -#}

{#-
    dbt's unit-test comparison on PostgreSQL.
    Why it differs: dbt compares a unit test's actual and expected rows as text.
    DuckDB's decimals have a fixed scale, so 100, 100.0 and 100.00 all print as
    100.00 in a decimal(18, 2) column; PostgreSQL's unconstrained numeric (what
    sum() or round() of a numeric return) keeps each value's own scale, so a sum
    prints 100.00 while the fixture's 100.0 prints 100.0, and equal values would
    be reported as different. Both sides are compared with trailing zeros trimmed
    (retention_unit_test_value, created by check_raw_landing); otherwise this is
    dbt's default__get_unit_test_sql.
-#}
{% macro postgres__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
    {%- set compared = [] -%}
    {%- for column_name in expected_column_names -%}
        {%- do compared.append(retention_pg_function('retention_unit_test_value')
            ~ '(' ~ column_name ~ ') as ' ~ column_name) -%}
    {%- endfor -%}
with dbt_internal_unit_test_actual as (
    select
        {{ compared | join(', ') }}, {{ dbt.string_literal("actual") }} as {{ adapter.quote("actual_or_expected") }}
    from (
        {{ main_sql }}
    ) _dbt_internal_unit_test_actual
),

dbt_internal_unit_test_expected as (
    select
        {{ compared | join(', ') }}, {{ dbt.string_literal("expected") }} as {{ adapter.quote("actual_or_expected") }}
    from (
        {{ expected_fixture_sql }}
    ) _dbt_internal_unit_test_expected
)

select * from dbt_internal_unit_test_actual
union all
select * from dbt_internal_unit_test_expected
{%- endmacro %}
