{#-
    check_raw_landing(): runs at the start of every dbt invocation (on-run-start).

    On DuckDB the raw landing files are read in place: for every source table of
    this project it checks that RETENTION_RAW_DIR holds batch files for it and
    that they carry every declared column, then (re)creates the view
    raw.<table> over those files, which is what the source points at. A missing
    folder, file or column stops the run with one message naming the path and
    the column, instead of a DuckDB stack trace half-way through the build.

    On PostgreSQL the raw tables are loaded beforehand by
    `retention_warehouse.pg_loader`; postgres__check_raw_landing
    (below) checks they exist with every column and stops
    the run with a message naming the loader when they do not. Other adapters:
    nothing is done here.
-#}
{% macro check_raw_landing() %}
    {{ return(adapter.dispatch('check_raw_landing', 'retention_warehouse')()) }}
{% endmacro %}

{% macro default__check_raw_landing() %}
    select 1
{% endmacro %}

{#- The table function that reads one raw table's batch files. -#}
{% macro raw_reader(raw_dir, raw_format, table_name) -%}
    {%- set pattern = raw_dir ~ '/' ~ table_name ~ '/*.' ~ raw_format -%}
    {%- if raw_format == 'parquet' -%}
        read_parquet('{{ pattern }}', union_by_name = true, filename = '_source_file')
    {%- else -%}
        read_csv('{{ pattern }}', header = true, all_varchar = true,
            union_by_name = true, filename = '_source_file')
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__check_raw_landing() %}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set raw_dir = env_var('RETENTION_RAW_DIR', 'data/sample') | replace("'", "''") -%}
    {%- set raw_format = env_var('RETENTION_RAW_FORMAT', 'csv') -%}
    {%- if raw_format not in ('csv', 'parquet') -%}
        {{ exceptions.raise_compiler_error(
            "RETENTION_RAW_FORMAT must be csv or parquet, got '" ~ raw_format ~ "'.") }}
    {%- endif -%}
    {%- set statements = ["create schema if not exists raw"] -%}
    {%- for node in graph.sources.values() if node.package_name == project_name -%}
        {%- set pattern = raw_dir ~ '/' ~ node.identifier ~ '/*.' ~ raw_format -%}
        {%- set found = run_query("select count(*) from glob('" ~ pattern ~ "')") -%}
        {%- if found.columns[0].values()[0] == 0 -%}
            {{ exceptions.raise_compiler_error(
                "Raw landing problem: no " ~ raw_format ~ " files for source table '" ~ node.identifier
                ~ "' (looked for " ~ pattern ~ "). Set RETENTION_RAW_DIR to a folder laid out as in "
                ~ "docs/raw_data_contract.md, or unset it to use the bundled sample.") }}
        {%- endif -%}
        {%- set reader = raw_reader(raw_dir, raw_format, node.identifier) -%}
        {%- set described = run_query("describe select * from " ~ reader) -%}
        {%- set present = described.columns[0].values() | map('lower') | list -%}
        {%- for column in node.columns if column | lower not in present -%}
            {{ exceptions.raise_compiler_error(
                "Raw landing problem: the " ~ raw_format ~ " files " ~ pattern ~ " have no column '"
                ~ column ~ "' (found: " ~ present | reject('equalto', '_source_file') | join(', ')
                ~ "). See docs/raw_data_contract.md for the expected header.") }}
        {%- endfor -%}
        {%- do statements.append(
            "create or replace view raw." ~ node.identifier ~ " as select * from " ~ reader) -%}
    {%- endfor -%}
    {{ return(statements | join(';\n')) }}
{% endmacro %}


{#-
    check_raw_landing on PostgreSQL (on-run-start).
    Why it differs: DuckDB creates views over the landing files here; PostgreSQL
    cannot read them, so the loader has already created raw.<table>. This checks
    that every source table exists with every declared column (one clear message
    otherwise, naming the loader), then (re)creates the PL/pgSQL helpers used by
    cast_or_null and parse_timestamp_utc: PostgreSQL 15 has no try_cast or
    try_strptime, and a failing cast can only be caught in PL/pgSQL.
-#}
{% macro postgres__check_raw_landing() %}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set loader_hint = "Load the raw files first: python -m retention_warehouse.pg_loader --raw-dir <folder> "
        ~ "(same RETENTION_PG_* settings as the postgres target)." -%}
    {%- set described = run_query(
        "select table_name, column_name from information_schema.columns"
        ~ " where table_schema = 'raw' and table_catalog = current_database()") -%}
    {%- set present = {} -%}
    {%- for row in described.rows -%}
        {%- do present.setdefault(row[0] | lower, []).append(row[1] | lower) -%}
    {%- endfor -%}
    {%- for node in graph.sources.values() if node.package_name == project_name -%}
        {%- if node.identifier | lower not in present -%}
            {{ exceptions.raise_compiler_error(
                "Raw landing problem: table raw." ~ node.identifier ~ " does not exist in database '"
                ~ target.dbname ~ "'. " ~ loader_hint) }}
        {%- endif -%}
        {%- set columns = present[node.identifier | lower] -%}
        {%- for column in (node.columns | list) + ['_source_file'] if column | lower not in columns -%}
            {{ exceptions.raise_compiler_error(
                "Raw landing problem: table raw." ~ node.identifier ~ " has no column '" ~ column
                ~ "' (found: " ~ columns | reject('equalto', '_source_file') | join(', ') ~ "). "
                ~ loader_hint) }}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(postgres_helper_functions_sql()) }}
{% endmacro %}
