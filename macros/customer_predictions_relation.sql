{#-
    customer_predictions_relation(): the per-customer predictions that
    int_customers_predictions_joined (and through it dim_customers) reads:
    customer_id, p_alive, predicted_clv_12m.

    The predictions are fitted by dbt Python models (models/intermediate/
    predictions), which dbt runs in-process on DuckDB only: dbt-postgres has no
    Python models and dbt-spark's need a cluster submission method. Where they
    do not run, the prediction folders are disabled (dbt_project.yml, enabled
    per target.type) and this macro gives an empty relation with the same
    columns, so dim_customers builds everywhere with the two columns NULL
    (docs/predictions.md). An engine that gains the predictions adds a variant
    here that references the model and enables the folders for its target.type;
    one without them needs nothing (default__ uses the cross-engine type macros).
-#}
{% macro customer_predictions_relation() -%}
    {{ return(adapter.dispatch('customer_predictions_relation', 'retention_warehouse')()) }}
{%- endmacro %}

{#- DuckDB runs the Python models: the real predictions. -#}
{% macro duckdb__customer_predictions_relation() -%}
    {{ ref('int_customers_predicted') }}
{%- endmacro %}

{#- Engines without in-process Python models: no rows, the same columns (an
    aliased subquery with a FROM: PostgreSQL requires the alias, and not every
    engine takes WHERE without FROM). -#}
{% macro default__customer_predictions_relation() -%}
    (
        select
            cast(null as {{ dbt.type_string() }}) as customer_id,
            cast(null as {{ type_double() }}) as p_alive,
            cast(null as {{ type_double() }}) as predicted_clv_12m
        from (select 1 as placeholder) as one_row
        where 1 = 0
    ) as no_predictions
{%- endmacro %}
