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

-- Which raw timestamp form a text is in (as duckdb__parse_timestamp_utc: ISO 8601
-- date and time with T or a space, optional seconds and fraction, with an offset
-- (+HH:MM, +HHMM, +HH, Z, optionally after a space) -> iso_offset or without ->
-- iso_no_offset; a date alone -> date_only; DD/MM/YYYY HH:MM:SS +HHMM -> day_first,
-- as DuckDB's try_strptime with '%d/%m/%Y %H:%M:%S %z' reads it: one- or two-digit
-- fields, offset +HH, +HHMM or +HH:MM), and its UTC wall time. NULL when the text has
-- none of these shapes or a field is out of range (month 13, day 45, hour 24, second
-- 60, 30 February). A fraction is cut to microseconds, as DuckDB does.
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
    hour_part integer := 0;
    minute_part integer := 0;
    second_part integer := 0;
    micros integer := 0;
    fraction text;
    offset_text text;
    offset_digits text;
    offset_minutes integer := 0;
begin
    format := null;
    utc_timestamp := null;
    if value is null then
        return;
    elsif value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,9})?)? ?(Z|z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)$' then
        format := 'iso_offset';
    elsif value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,9})?)?$' then
        format := 'iso_no_offset';
    elsif value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
        format := 'date_only';
    elsif value ~ '^\s*\d{1,2}/\d{1,2}/\d{4}\s+\d{1,2}:\d{1,2}:\d{1,2}\s+[+-]\d{2}(:?\d{2})?(:\d{2})?\s*$' then
        format := 'day_first';
    else
        return;
    end if;
    if format = 'day_first' then
        parts := array_remove(regexp_split_to_array(value, '[^0-9]+'), '');
        year_part := parts[3]; month_part := parts[2]; day_part := parts[1];
        hour_part := parts[4]; minute_part := parts[5]; second_part := parts[6];
        -- +HHMM is one run of four digits; +HH:MM two runs of two.
        offset_digits := parts[7] || case when length(parts[7]) = 2 then coalesce(parts[8], '00') else '' end;
        offset_minutes := (substr(offset_digits, 1, 2)::integer * 60 + substr(offset_digits, 3, 2)::integer)
            * case when value ~ '-\d{2}(:?\d{2})?(:\d{2})?\s*$' then -1 else 1 end;
        if hour_part > 23 or minute_part > 59 or second_part > 59 then
            format := null;
            return;
        end if;
    else
        year_part := substr(value, 1, 4); month_part := substr(value, 6, 2);
        day_part := substr(value, 9, 2);
        if format != 'date_only' then
            hour_part := substr(value, 12, 2); minute_part := substr(value, 15, 2);
            if substr(value, 17, 1) = ':' then
                second_part := substr(value, 18, 2);
                fraction := substring(value from 20 for 10);
                if fraction ~ '^[.][0-9]' then
                    fraction := rpad(substr(substring(fraction from '^[.][0-9]+'), 2, 6), 6, '0');
                    micros := fraction::integer;
                end if;
            end if;
        end if;
        if format = 'iso_offset' then
            offset_text := substring(value from '(Z|z|[+-][0-9:]+)$');
            if offset_text in ('Z', 'z') then
                offset_minutes := 0;
            else
                offset_digits := replace(substr(offset_text, 2), ':', '');
                offset_minutes := (substr(offset_digits, 1, 2)::integer * 60
                    + coalesce(nullif(substr(offset_digits, 3, 2), '')::integer, 0))
                    * case when left(offset_text, 1) = '-' then -1 else 1 end;
            end if;
        end if;
    end if;
    if year_part < 1 or month_part not between 1 and 12 or day_part < 1
        or day_part > extract(day from make_date(year_part, month_part, 1)
            + interval '1 month' - interval '1 day') then
        format := null;
        return;
    end if;
    utc_timestamp := make_timestamp(
        year_part, month_part, day_part, hour_part, minute_part, second_part + micros / 1000000.0
    ) - make_interval(mins => offset_minutes);
end
$fn$
{%- endmacro %}
