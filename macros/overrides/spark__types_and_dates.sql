{#- Overrides of dbt-spark 1.11.0 internals (dbt looks in the root project first
    for macros of the dbt namespace): type spellings, datediff, dateadd, concat,
    and the seed loader. -#}

{#- A type as Spark spells it: the contracts and seeds spell text `varchar`
    (DuckDB, PostgreSQL), which Spark only knows with a length; `double
    precision` is PostgreSQL's. -#}
{% macro spark_data_type(data_type) -%}
    {%- set spellings = {'varchar': 'string', 'text': 'string', 'double precision': 'double'} -%}
    {{ return(spellings.get((data_type or '') | trim | lower, data_type)) }}
{%- endmacro %}

{#- dbt.cast (the contract's empty-schema query) with the spelling translated. -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ spark_data_type(type) }})
{%- endmacro %}

{#- dbt.datediff: Spark's datediff returns int, DuckDB's date_diff bigint (the
    contracts say bigint), and dbt-spark's version stops on a NULL date
    (assert_not_null) where DuckDB returns NULL. Only days are used. -#}
{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart == 'day' -%}
        cast(datediff(cast({{ second_date }} as date), cast({{ first_date }} as date)) as bigint)
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "datediff on Spark: datepart '" ~ datepart ~ "' is not implemented in"
            ~ " macros/overrides/spark__types_and_dates.sql (day is)") }}
    {%- endif -%}
{%- endmacro %}

{#- dbt.dateadd: dbt-spark's version stops on a NULL date (assert_not_null),
    DuckDB's date + interval gives NULL; timestampadd clamps month ends as
    DuckDB does (31 January + 1 month = 28/29 February). -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{#- dbt.concat: Spark's concat() is NULL when any part is NULL; DuckDB's and
    PostgreSQL's concat() skip NULL parts, as concat_ws('', ...) does. -#}
{% macro spark__concat(fields) -%}
    concat_ws('', {{ fields | join(', ') }})
{%- endmacro %}

{#- dbt-spark's seed table with the column types translated (seeds spell text varchar). -#}
{% macro spark__create_csv_table(model, agate_table) %}
  {%- set column_override = model['config'].get('column_types', {}) -%}
  {%- set quote_seed_column = model['config'].get('quote_columns', None) -%}

  {% set sql %}
    create table {{ this.render() }} (
        {%- for col_name in agate_table.column_names -%}
            {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
            {%- set type = spark_data_type(column_override.get(col_name, inferred_type)) -%}
            {%- set column_name = (col_name | string) -%}
            {{ adapter.quote_seed_column(column_name, quote_seed_column) }} {{ type }} {%- if not loop.last -%}, {%- endif -%}
        {%- endfor -%}
    )
    {{ file_format_clause() }}
    {{ partition_cols(label="partitioned by") }}
    {{ clustered_cols(label="clustered by") }}
    {{ location_clause() }}
    {{ comment_clause() }}
  {% endset %}

  {% call statement('_') -%}
    {{ sql }}
  {%- endcall %}

  {{ return(sql) }}
{% endmacro %}

{#- dbt-spark's seed rows with the column types translated. -#}
{% macro spark__load_csv_rows(model, agate_table) %}

  {% set batch_size = get_batch_size() %}
  {% set column_override = model['config'].get('column_types', {}) %}

  {% set statements = [] %}

  {% for chunk in agate_table.rows | batch(batch_size) %}
      {% set bindings = [] %}

      {% for row in chunk %}
          {% do bindings.extend(row) %}
      {% endfor %}

      {% set sql %}
          insert into {{ this.render() }} values
          {% for row in chunk -%}
              ({%- for col_name in agate_table.column_names -%}
                  {%- set inferred_type = adapter.convert_type(agate_table, loop.index0) -%}
                  {%- set type = spark_data_type(column_override.get(col_name, inferred_type)) -%}
                    cast({{ get_binding_char() }} as {{type}})
                  {%- if not loop.last%},{%- endif %}
              {%- endfor -%})
              {%- if not loop.last%},{%- endif %}
          {%- endfor %}
      {% endset %}

      {% do adapter.add_query(sql, bindings=bindings, abridge_sql_log=True) %}

      {% if loop.index0 == 0 %}
          {% do statements.append(sql) %}
      {% endif %}
  {% endfor %}

  {# Return SQL so we can render it out into the compiled files #}
  {{ return(statements[0]) }}
{% endmacro %}
