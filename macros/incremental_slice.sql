{#-
    The incremental customer models rewrite one slice per run and keep every
    other row (docs/refresh.md):

    * every row of the customers whose inputs changed since the model last ran:
      int_customers_fingerprinted.changed_at after the model's own latest
      refreshed_at (its watermark), so a model that failed or was not selected
      in an earlier run catches up by itself;
    * for models with a time column (period_start, month_start), every
      customer's rows from the period (month) holding the earlier of the
      previous and the current as-of date onwards: the period in progress moves
      every day, closed periods of unchanged customers do not.

    A full build (or an empty table) is the slice "every customer, all time".
    Each model filters its rows with refresh_slice_predicate(); its pre-hook
    refresh_slice_delete() deletes the same slice first, inside the same
    transaction, so a row the inputs no longer produce is removed too.
-#}

{#- The previous run's watermark of this model: {'refreshed_at': text,
    'as_of': text or none}, or none in a full build or on an empty table. -#}
{% macro incremental_watermark(time_column=none) -%}
    {#- A unit test has no relation of its own (this is none): a full build. -#}
    {%- if not execute or this is none or not is_incremental() -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select
            cast(max(refreshed_at) as {{ dbt.type_string() }}),
            {% if time_column -%}
                cast(max(effective_end) as {{ dbt.type_string() }})
            {%- else -%}
                cast(null as {{ dbt.type_string() }})
            {%- endif %}
        from {{ this }}
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- if row[0] is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return({'refreshed_at': row[0], 'as_of': row[1]}) }}
{%- endmacro %}

{#- When this run writes its rows: the same instant for every model of one
    dbt invocation. -#}
{% macro refreshed_at_literal() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- The customers whose rows this run rewrites (a subquery). -#}
{% macro changed_customers_sql(watermark) -%}
    select customer_id from {{ ref('int_customers_fingerprinted') }}
    {%- if watermark %}
        where changed_at > cast('{{ watermark.refreshed_at }}' as timestamp)
    {%- endif %}
{%- endmacro %}

{#- The first period (or month) every customer's rows are rewritten from: the
    one holding the earlier of the previous and the current as-of date. In a
    full build every customer is changed, so it is only a valid date. -#}
{% macro slice_start_sql(watermark, grain='period') -%}
    {%- set as_of = 'as_of_date' -%}
    {%- if watermark and watermark.as_of -%}
        {%- set as_of = "least(cast('" ~ watermark.as_of ~ "' as date), as_of_date)" -%}
    {%- endif -%}
    select
        {% if grain == 'month' -%}
            {{ month_start(as_of) }}
        {%- else -%}
            {{ period_start(as_of) }}
        {%- endif %} as slice_start
    from {{ ref('int_as_of_dates_resolved') }}
{%- endmacro %}

{#- slice_start_sql() resolved once, when the model runs, as a date literal.
    A literal rather than a scalar subquery or a cross-joined one-row CTE, so
    the engine can filter scans with it and hash-join on customer_id: compared
    with a column of a cross join, `period_start >= slice.slice_start` beside
    an equality turned a left join into a nested loop over every row of the
    slice times every customer. -#}
{% macro slice_start_literal(watermark, grain='period') -%}
    {%- if not execute -%}
        {{ return("cast(null as date)") }}
    {%- endif -%}
    {%- set rows = run_query(slice_start_sql(watermark, grain)).rows -%}
    {%- if rows | length != 1 or rows[0][0] is none -%}
        {{ exceptions.raise_compiler_error(
            "slice_start_literal: int_as_of_dates_resolved must hold exactly one as-of date") }}
    {%- endif -%}
    {{ return("cast('" ~ rows[0][0] ~ "' as date)") }}
{%- endmacro %}

{#- True for the rows of the slice this run rewrites. slice_start: the
    slice_start_literal() of the model, when it has read it already. -#}
{% macro refresh_slice_predicate(watermark, time_column=none, grain='period',
                                 slice_start=none) -%}
    (
        customer_id in ({{ changed_customers_sql(watermark) }})
        {%- if time_column %}
            or {{ time_column }} >= {{ slice_start
                or slice_start_literal(watermark, grain) }}
        {%- endif %}
    )
{%- endmacro %}

{#- The pre-hook of an incremental customer model: delete the slice it is
    about to insert (nothing in a full build, which replaces the table). -#}
{% macro refresh_slice_delete(time_column=none, grain='period') -%}
    {%- set watermark = incremental_watermark(time_column) -%}
    {%- if watermark -%}
        delete from {{ this }}
        where {{ refresh_slice_predicate(watermark, time_column, grain) }}
    {%- elif is_incremental() -%}
        delete from {{ this }}
    {%- else -%}
        select 1 as nothing_to_delete
    {%- endif -%}
{%- endmacro %}

{#- A where condition that holds only in an incremental run: `condition` when
    there is a watermark, else `true` (a full build keeps every row). Written
    as one expression, so a model reads the same in both cases. -#}
{% macro when_incremental(watermark, condition) -%}
    {%- if watermark -%}
        ({{ condition }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- The materialization of the incremental models: incremental, or on Spark a
    table rebuilt in full on every run. Why it differs: with plain Parquet
    tables (no Delta or Iceberg) Spark has no DELETE, so neither the
    delete+insert strategy nor the slice delete of refresh_slice_delete() can
    run, and insert_overwrite replaces whole partitions while a refresh slice is
    "these customers" across every partition (docs/running_on_a_bigger_engine.md). -#}
{% macro refresh_materialization() -%}
    {{ return(adapter.dispatch('refresh_materialization', 'retention_warehouse')()) }}
{%- endmacro %}

{% macro default__refresh_materialization() -%}
    {{ return('incremental') }}
{%- endmacro %}

{% macro spark__refresh_materialization() -%}
    {{ return('table') }}
{%- endmacro %}
