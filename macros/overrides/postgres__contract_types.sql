{#- Overrides of dbt-adapters 1.24.5 / dbt-postgres 1.11.0 internals: cast() and
    get_table_columns_and_constraints(), so contract types are engine-neutral. -#}

{#-
    Contract data types on PostgreSQL.
    Why it differs: the marts' contracts (models/*/_*__models.yml) spell an 8-byte
    float `double`, as DuckDB, Spark, Trino and Snowflake do; PostgreSQL only knows
    `double precision` (or float8). The two places dbt writes a contract's
    data_type into SQL, the empty-schema cast (dbt.cast) and the CREATE TABLE
    column list, translate the spelling here, so the YAML stays engine-neutral.
-#}
{% macro postgres_data_type(data_type) -%}
    {%- set spellings = {'double': 'double precision', 'string': 'text'} -%}
    {{ return(spellings.get((data_type or '') | trim | lower, data_type)) }}
{%- endmacro %}

{#- dbt.cast (used by the contract's empty-schema query) with the spelling translated. -#}
{% macro postgres__cast(field, type) -%}
    cast({{ field }} as {{ postgres_data_type(type) }})
{%- endmacro %}

{#- dbt's table_columns_and_constraints(), with each column's data_type translated. -#}
{% macro postgres__get_table_columns_and_constraints() -%}
    {%- set columns = {} -%}
    {%- for name, column in model['columns'].items() -%}
        {%- do columns.update({name: dict(column, data_type=postgres_data_type(column.get('data_type')))}) -%}
    {%- endfor -%}
    {%- set raw_column_constraints = adapter.render_raw_columns_constraints(raw_columns=columns) -%}
    {%- set raw_model_constraints = adapter.render_raw_model_constraints(raw_constraints=model['constraints']) -%}
    (
    {% for c in raw_column_constraints -%}
        {{ c }}{{ "," if not loop.last or raw_model_constraints }}
    {% endfor %}
    {% for c in raw_model_constraints -%}
        {{ c }}{{ "," if not loop.last }}
    {% endfor -%}
    )
{%- endmacro %}
