{#-
    PostgreSQL variants of the project's dispatched macros (adapter.dispatch finds
    them by the postgres__ prefix). Every engine difference of the project lives in
    a dispatched macro; this file holds all of PostgreSQL's. The raw tables are
    loaded beforehand by `python -m retention_warehouse.pg_loader` (PostgreSQL
    cannot read the landing files in place as DuckDB does).

    Behaviour is matched to DuckDB value by value (NULL where DuckDB's try_cast /
    try_strptime gives NULL), so the marts are equal on both engines;
    tests/python/test_postgres_portability.py checks it.
-#}

{#- Schema-qualified name of a helper function created by postgres__check_raw_landing(). -#}
{% macro retention_pg_function(name) -%}
    {{ adapter.quote(target.schema) }}.{{ name }}
{%- endmacro %}


{#-
    check_raw_landing on PostgreSQL (on-run-start).
    Why it differs: DuckDB creates views over the landing files here; PostgreSQL
    cannot read them, so the loader has already created raw.<table>. This checks
    that every source table exists with every declared column (one clear message
    otherwise, naming the loader), then (re)creates the PL/pgSQL helpers used by
    safe_cast and parse_timestamp_utc: PostgreSQL 15 has no try_cast or
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


{#- The helper functions, created with `create or replace` on every run (idempotent). -#}
{% macro postgres_helper_functions_sql() -%}
create schema if not exists {{ adapter.quote(target.schema) }};

-- Text to numeric(p, s) as DuckDB's try_cast(x as decimal(p, s)): rounded half
-- away from zero to s decimals, NULL when not a number, NaN/Infinity, or too
-- large for the precision. With p and s NULL: an unconstrained numeric.
create or replace function {{ retention_pg_function('retention_try_cast_numeric') }}(
    value text, numeric_precision integer, numeric_scale integer
) returns numeric language plpgsql immutable parallel safe as $fn$
declare
    result numeric;
begin
    if value is null then
        return null;
    end if;
    result := cast(value as numeric);
    if numeric_scale is not null then
        result := round(result, numeric_scale);
    end if;
    if result in ('NaN', 'Infinity', '-Infinity')
        or abs(result) >= power(10::numeric, numeric_precision - numeric_scale) then
        return null;
    end if;
    return result;
exception when others then
    return null;
end
$fn$;

-- Text to integer / bigint as DuckDB's try_cast: a decimal value is rounded
-- half away from zero ('12.5' -> 13), NULL when not a number or out of range.
create or replace function {{ retention_pg_function('retention_try_cast_integer') }}(
    value text
) returns integer language plpgsql immutable parallel safe as $fn$
begin
    return cast(round(cast(value as numeric)) as integer);
exception when others then
    return null;
end
$fn$;

create or replace function {{ retention_pg_function('retention_try_cast_bigint') }}(
    value text
) returns bigint language plpgsql immutable parallel safe as $fn$
begin
    return cast(round(cast(value as numeric)) as bigint);
exception when others then
    return null;
end
$fn$;

create or replace function {{ retention_pg_function('retention_try_cast_double') }}(
    value text
) returns double precision language plpgsql immutable parallel safe as $fn$
begin
    return cast(value as double precision);
exception when others then
    return null;
end
$fn$;

create or replace function {{ retention_pg_function('retention_try_cast_boolean') }}(
    value text
) returns boolean language plpgsql immutable parallel safe as $fn$
begin
    return cast(value as boolean);
exception when others then
    return null;
end
$fn$;

-- Text to date as DuckDB's try_cast(x as date): YYYY-MM-DD (or /), one- or
-- two-digit month and day, and anything but a digit after it (DuckDB ignores a
-- time part or other trailing text); PostgreSQL's own date input also takes
-- words and other orders, which DuckDB does not, so the shape is checked first.
-- NULL for an impossible date (2024-02-30). Years before 1 or beyond 9999,
-- which DuckDB reads, are NULL here. No capture groups and no exception block
-- (see retention_parse_timestamp below: both are slow in PostgreSQL).
create or replace function {{ retention_pg_function('retention_try_cast_date') }}(
    value text
) returns date language plpgsql immutable parallel safe as $fn$
declare
    parts text[];
    year_part integer;
    month_part integer;
    day_part integer;
begin
    if value is null
        or value !~ '^\s*\d{4}(-\d{1,2}-|/\d{1,2}/)\d{1,2}(\D|$)' then
        return null;
    end if;
    parts := array_remove(regexp_split_to_array(value, '[^0-9]+'), '');
    year_part := parts[1]; month_part := parts[2]; day_part := parts[3];
    if year_part < 1 or month_part not between 1 and 12 or day_part < 1
        or day_part > extract(day from make_date(year_part, month_part, 1)
            + interval '1 month' - interval '1 day') then
        return null;
    end if;
    return make_date(year_part, month_part, day_part);
end
$fn$;

-- Text to timestamp as DuckDB's try_cast(x as timestamp): a date, optionally
-- with HH:MM[:SS[.ffffff]] after a space or T; NULL otherwise.
create or replace function {{ retention_pg_function('retention_try_cast_timestamp') }}(
    value text
) returns timestamp language plpgsql immutable parallel safe as $fn$
begin
    if value !~ '^\s*\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{1,2}(?::\d{1,2}(?:\.\d{1,6})?)?)?\s*$' then
        return null;
    end if;
    return cast(value as timestamp);
exception when others then
    return null;
end
$fn$;

-- A unit-test value as compared: a numeric with its trailing zeros trimmed, any
-- other value unchanged (see postgres__get_unit_test_sql).
create or replace function {{ retention_pg_function('retention_unit_test_value') }}(
    value anyelement
) returns anyelement language plpgsql immutable parallel safe as $fn$
begin
    if pg_typeof(value) = 'numeric'::regtype then
        return trim_scale(value::numeric);
    end if;
    return value;
end
$fn$;

-- Which of the three raw timestamp formats a text is in (as DuckDB's
-- try_strptime with '%Y-%m-%dT%H:%M:%S%z', '%d/%m/%Y %H:%M:%S %z',
-- '%Y-%m-%dT%H:%M:%S'), and its UTC wall time. One- or two-digit fields, a
-- four-digit year, an offset +HH, +HHMM or +HH:MM (offset seconds ignored);
-- NULL when the text has none of these shapes or a field is out of range
-- (month 13, day 45, hour 24, second 60, 30 February).
-- Written for speed: the shape is tested with plain `~` matches (no capture
-- groups: PostgreSQL's regex engine is slow at those, about 0.1-0.6 ms a row
-- here), the digit runs are split out, and ranges are checked by hand, so no
-- exception block (a subtransaction per row) is needed.
create or replace function {{ retention_pg_function('retention_parse_timestamp') }}(
    value text, out format text, out utc_timestamp timestamp
) language plpgsql immutable parallel safe as $fn$
declare
    parts text[];
    year_part integer;
    month_part integer;
    day_part integer;
    offset_digits text;
    offset_minutes integer := 0;
begin
    format := null;
    utc_timestamp := null;
    if value is null then
        return;
    elsif value ~ '^\s*\d{4}-\d{1,2}-\d{1,2}T\d{1,2}:\d{1,2}:\d{1,2}[+-]\d{2}(:?\d{2})?(:\d{2})?\s*$' then
        format := 'iso_offset';
    elsif value ~ '^\s*\d{1,2}/\d{1,2}/\d{4}\s+\d{1,2}:\d{1,2}:\d{1,2}\s+[+-]\d{2}(:?\d{2})?(:\d{2})?\s*$' then
        format := 'day_first';
    elsif value ~ '^\s*\d{4}-\d{1,2}-\d{1,2}T\d{1,2}:\d{1,2}:\d{1,2}\s*$' then
        format := 'iso_no_offset';
    else
        return;
    end if;
    -- The digit runs in order: date (3), time (3), then the offset's (0 to 3).
    parts := array_remove(regexp_split_to_array(value, '[^0-9]+'), '');
    if format = 'day_first' then
        year_part := parts[3]; month_part := parts[2]; day_part := parts[1];
    else
        year_part := parts[1]; month_part := parts[2]; day_part := parts[3];
    end if;
    if year_part < 1 or month_part not between 1 and 12 or day_part < 1
        or day_part > extract(day from make_date(year_part, month_part, 1)
            + interval '1 month' - interval '1 day')
        or parts[4]::integer > 23 or parts[5]::integer > 59 or parts[6]::integer > 59 then
        format := null;
        return;
    end if;
    if format != 'iso_no_offset' then
        -- +HHMM is one run of four digits; +HH:MM two runs of two.
        offset_digits := parts[7] || case when length(parts[7]) = 2 then coalesce(parts[8], '00') else '' end;
        offset_minutes := (substr(offset_digits, 1, 2)::integer * 60 + substr(offset_digits, 3, 2)::integer)
            * case when value ~ '-\d{2}(:?\d{2})?(:\d{2})?\s*$' then -1 else 1 end;
    end if;
    utc_timestamp := make_timestamp(
        year_part, month_part, day_part, parts[4]::integer, parts[5]::integer, parts[6]::integer
    ) - make_interval(mins => offset_minutes);
end
$fn$
{%- endmacro %}


{#-
    safe_cast on PostgreSQL.
    Why it differs: PostgreSQL 15 has no try_cast (a bad value fails the whole
    query), so each target type goes through a PL/pgSQL helper that returns NULL
    instead, written to accept what DuckDB's try_cast accepts. The type may be
    spelled the DuckDB way (staging: 'decimal(18, 2)', 'integer', 'date') or the
    PostgreSQL way: dbt's unit tests cast their fixture values with this macro too
    (the project's safe_cast shadows dbt's), using the column types PostgreSQL
    reports ('character varying(20)', 'timestamp without time zone', 'numeric').
    A type with no helper here (time, interval, json, ...) gets a plain cast: a bad
    value then fails the query loudly, never a silently wrong value; add a helper
    before staging casts raw text to such a type.
-#}
{% macro postgres__safe_cast(expression, data_type) -%}
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


{#-
    parse_timestamp_utc / timestamp_format on PostgreSQL.
    Why they differ: DuckDB uses try_strptime; PostgreSQL's to_timestamp raises
    on a bad value instead of returning NULL, so a regex-guarded PL/pgSQL helper
    (retention_parse_timestamp, created by check_raw_landing) reads the same three
    formats, NULL when unparseable (including out of range, 2024-13-45T99:00:00).
-#}
{% macro postgres__parse_timestamp_utc(expression) -%}
    ({{ retention_pg_function('retention_parse_timestamp') }}(cast({{ expression }} as text))).utc_timestamp
{%- endmacro %}

{% macro postgres__timestamp_format(expression) -%}
    ({{ retention_pg_function('retention_parse_timestamp') }}(cast({{ expression }} as text))).format
{%- endmacro %}


{#-
    hash_pii on PostgreSQL.
    Why it differs: PostgreSQL's sha256 takes bytea and returns bytea (DuckDB's
    takes text and returns hex text); encoding the UTF-8 bytes and hex-encoding
    the digest gives the same lowercase hex as DuckDB, so keys match across engines.
-#}
{% macro postgres__hash_pii(expression) -%}
    encode(sha256(convert_to(cast({{ expression }} as text), 'UTF8')), 'hex')
{%- endmacro %}


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
            "datediff on PostgreSQL: datepart '" ~ datepart ~ "' is not implemented in macros/adapters/postgres.sql (day, month, quarter, year are)") }}
    {%- endif -%}
{%- endmacro %}


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


{#-
    refresh_table_statistics on PostgreSQL (model and seed post-hook).
    Why it differs: PostgreSQL has no statistics on a table dbt has just built
    until autovacuum analyzes it; without them the planner picks nested loops
    for the next model's joins. ANALYZE right after the build (allowed inside
    dbt's transaction) takes a few milliseconds on the sample. Views have no
    statistics of their own and are skipped.
-#}
{% macro postgres__refresh_table_statistics() -%}
    {%- if model.config.materialized in ('table', 'incremental', 'seed') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
