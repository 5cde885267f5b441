{#-
    PL/pgSQL helper functions of the PostgreSQL target. PostgreSQL 15 has no
    try_cast or try_strptime and a failing cast can only be caught in PL/pgSQL,
    so the PostgreSQL variants of cast_or_null and parse_timestamp_utc call these
    functions. postgres__check_raw_landing (macros/check_raw_landing.sql)
    (re)creates them at the start of every run; behaviour is matched to DuckDB
    value by value, and tests/python/test_postgres_portability.py checks it.
-#}

{#- Schema-qualified name of a helper function created by postgres__check_raw_landing(). -#}
{% macro retention_pg_function(name) -%}
    {{ adapter.quote(target.schema) }}.{{ name }}
{%- endmacro %}


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
