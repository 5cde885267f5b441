{#-
    cast_or_null(expression, data_type): cast raw text to a type, NULL when the
    value does not convert (never an error that stops the whole model).

    dbt's own dbt.safe_cast is a plain CAST on DuckDB, so one malformed value
    fails the model; staging uses this macro for every conversion of raw text.
    It has its own name so it does not shadow dbt.safe_cast (which dbt's unit
    tests use to cast fixture values).
-#}
{% macro cast_or_null(expression, data_type) -%}
    {{ return(adapter.dispatch('cast_or_null', 'retention_warehouse')(expression, data_type)) }}
{%- endmacro %}

{#- DuckDB has try_cast. -#}
{% macro duckdb__cast_or_null(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{#- Adapters with a native TRY_CAST (Snowflake, SQL Server, Spark, Trino). -#}
{% macro default__cast_or_null(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}


{#-
    cast_or_null on PostgreSQL.
    Why it differs: PostgreSQL 15 has no try_cast (a bad value fails the whole
    query), so each target type goes through a PL/pgSQL helper that returns NULL
    instead, written to accept what DuckDB's try_cast accepts. The type may be
    spelled the DuckDB way (staging: 'decimal(18, 2)', 'integer', 'date') or the
    PostgreSQL way ('character varying(20)', 'timestamp without time zone',
    'numeric').
    A type with no helper here (time, interval, json, ...) gets a plain cast: a bad
    value then fails the query loudly, never a silently wrong value; add a helper
    before staging casts raw text to such a type.
-#}
{% macro postgres__cast_or_null(expression, data_type) -%}
    {%- set normalised = data_type | lower | replace(' ', '') -%}
    {%- set as_text = 'cast(' ~ expression ~ ' as text)' -%}
    {%- set decimal_match = modules.re.match('^(decimal|numeric)(\((\d+)(,(\d+))?\))?$', normalised) -%}
    {%- if decimal_match and decimal_match.group(3) -%}
        {%- set numeric_precision = decimal_match.group(3) -%}
        {%- set numeric_scale = decimal_match.group(5) or 0 -%}
        cast({{ retention_pg_function('retention_try_cast_numeric') }}({{ as_text }}, {{ numeric_precision }}, {{ numeric_scale }}) as numeric({{ numeric_precision }}, {{ numeric_scale }}))
    {%- elif decimal_match -%}
        {#- A bare numeric: PostgreSQL's is unconstrained (DuckDB's would be
            decimal(18, 3)); models always give precision and scale. -#}
        {{ retention_pg_function('retention_try_cast_numeric') }}({{ as_text }}, null, null)
    {%- elif normalised in ('integer', 'int', 'int4', 'smallint', 'int2') -%}
        cast({{ retention_pg_function('retention_try_cast_integer') }}({{ as_text }}) as {{ data_type }})
    {%- elif normalised in ('bigint', 'int8') -%}
        {{ retention_pg_function('retention_try_cast_bigint') }}({{ as_text }})
    {%- elif normalised in ('double', 'doubleprecision', 'float8', 'float') -%}
        {{ retention_pg_function('retention_try_cast_double') }}({{ as_text }})
    {%- elif normalised in ('real', 'float4') -%}
        cast({{ retention_pg_function('retention_try_cast_double') }}({{ as_text }}) as real)
    {%- elif normalised in ('boolean', 'bool') -%}
        {{ retention_pg_function('retention_try_cast_boolean') }}({{ as_text }})
    {%- elif normalised == 'date' -%}
        {{ retention_pg_function('retention_try_cast_date') }}({{ as_text }})
    {%- elif normalised in ('timestamp', 'timestampwithouttimezone') -%}
        {{ retention_pg_function('retention_try_cast_timestamp') }}({{ as_text }})
    {%- elif normalised in ('varchar', 'text', 'string') -%}
        {{ as_text }}
    {%- else -%}
        {#- character varying(n), character(n) and any type without a helper. -#}
        cast({{ expression }} as {{ data_type }})
    {%- endif -%}
{%- endmacro %}

{#- Spark: try_cast as on DuckDB (dbt-spark runs with ANSI off, where a plain cast
    also gives NULL, but try_cast says so); Spark spells varchar/text `string`. -#}
{% macro spark__cast_or_null(expression, data_type) -%}
    try_cast({{ expression }} as {{ spark_data_type(data_type) }})
{%- endmacro %}
