{#-
    parse_timestamp_utc(expression): raw timestamp text to a UTC timestamp
    (without time zone), NULL when unparseable. Accepted (docs/metric_decisions.md,
    "Raw values"), the input trimmed:
      - ISO 8601 date and time, T or a space between them, minutes with optional
        seconds and optional fraction (up to 9 digits; cut to microseconds), then
          an offset +HH:MM, +HHMM or +HH, or Z, optionally after a space
            (2024-03-05T14:22:10+01:00, 2025-06-15T10:00:00.123Z,
             2025-06-15 10:00:00 +02:00)                          -> iso_offset
          or nothing (read as UTC: 2024-03-05T14:22:10)           -> iso_no_offset
      - a date alone, YYYY-MM-DD: midnight UTC                    -> date_only
      - day-first with offset: 05/03/2024 14:22:10 +0100          -> day_first
    Fields out of range (hour 24, minute 60, 30 February, offset beyond 14 h) are
    NULL. timestamp_format(expression) names which form matched (NULL when none),
    so staging can flag rows that needed an assumed time or offset.
-#}
{% macro parse_timestamp_utc(expression) -%}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'retention_warehouse')(expression)) }}
{%- endmacro %}

{% macro timestamp_format(expression) -%}
    {{ return(adapter.dispatch('timestamp_format', 'retention_warehouse')(expression)) }}
{%- endmacro %}

{#- The shapes, shared by the DuckDB variants (RE2). -#}
{% macro iso_timestamp_pattern(with_offset) -%}
    [0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9]([.][0-9]{1,9})?)?
    {%- if with_offset -%}[ ]?(Z|z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?){%- endif -%}
{%- endmacro %}

{#- DuckDB: the shape is checked by regexp_full_match, then the text (Z spelled
    +00, no space before the offset, :00 seconds when there are none) is cast; the
    session time zone is UTC (profiles.yml), so a TIMESTAMPTZ cast to TIMESTAMP is
    UTC wall time. -#}
{% macro duckdb__parse_timestamp_utc(expression) -%}
    case
        when regexp_full_match({{ expression }}, '{{ iso_timestamp_pattern(true) }}')
            then cast(try_cast(regexp_replace(regexp_replace(regexp_replace(
                {{ expression }}, '[ ]?[Zz]$', '+00'), '[ ]([+-])', '\1'),
                '^([0-9-]{10}[T ][0-9]{2}:[0-9]{2})([+-])', '\1:00\2')
                as timestamptz) as timestamp)
        when regexp_full_match({{ expression }}, '{{ iso_timestamp_pattern(false) }}')
            then try_cast({{ expression }} as timestamp)
        when regexp_full_match({{ expression }}, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
            then cast(try_cast({{ expression }} as date) as timestamp)
        else cast(try_strptime({{ expression }}, '%d/%m/%Y %H:%M:%S %z') as timestamp)
    end
{%- endmacro %}

{% macro duckdb__timestamp_format(expression) -%}
    case
        when {{ duckdb__parse_timestamp_utc(expression) }} is null then null
        when regexp_full_match({{ expression }}, '{{ iso_timestamp_pattern(true) }}')
            then 'iso_offset'
        when regexp_full_match({{ expression }}, '{{ iso_timestamp_pattern(false) }}')
            then 'iso_no_offset'
        when regexp_full_match({{ expression }}, '[0-9]{4}-[0-9]{2}-[0-9]{2}')
            then 'date_only'
        else 'day_first'
    end
{%- endmacro %}


{#-
    parse_timestamp_utc / timestamp_format on PostgreSQL.
    Why they differ: DuckDB uses regexp_full_match, try_cast and try_strptime;
    PostgreSQL's casts and to_timestamp raise on a bad value instead of returning
    NULL, so a regex-guarded PL/pgSQL helper (retention_parse_timestamp in
    macros/adapters/postgres/helper_functions.sql, created by check_raw_landing)
    reads the same forms, NULL when unparseable (including out of range values).
-#}
{% macro postgres__parse_timestamp_utc(expression) -%}
    ({{ retention_pg_function('retention_parse_timestamp') }}(cast({{ expression }} as text))).utc_timestamp
{%- endmacro %}

{% macro postgres__timestamp_format(expression) -%}
    ({{ retention_pg_function('retention_parse_timestamp') }}(cast({{ expression }} as text))).format
{%- endmacro %}


{#- format_timestamp_iso(expression): a timestamp as ISO 8601 text without offset
    (YYYY-MM-DDTHH:MM:SS.ffffff), which parse_timestamp_utc reads back exactly. -#}
{% macro format_timestamp_iso(expression) -%}
    {{ return(adapter.dispatch('format_timestamp_iso', 'retention_warehouse')(expression)) }}
{%- endmacro %}

{% macro duckdb__format_timestamp_iso(expression) -%}
    strftime({{ expression }}, '%Y-%m-%dT%H:%M:%S.%f')
{%- endmacro %}

{#-
    format_timestamp_iso on PostgreSQL.
    Why it differs: PostgreSQL formats with to_char and its own pattern letters.
-#}
{% macro postgres__format_timestamp_iso(expression) -%}
    to_char({{ expression }}, 'YYYY-MM-DD"T"HH24:MI:SS.US')
{%- endmacro %}

{#-
    parse_timestamp_utc / timestamp_format on Spark.
    Why they differ: Spark has no regexp_full_match or strptime with %z; the same
    shapes are checked with regexp_like (Java regex, anchored), the ISO text is
    normalised (Z as +00:00, no space before the offset, +HH and +HHMM as +HH:MM,
    :00 seconds when there are none, the fraction cut to microseconds) and cast,
    and the day-first form is taken apart with regexp_extract and built with
    make_timestamp in its offset (NULL for a field out of range: dbt-spark runs
    with ANSI off). The session time zone is UTC (profiles.yml), so the value is
    UTC wall time as on DuckDB.
-#}
{% macro spark_day_first_pattern() -%}
    ^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})[ ]+([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})[ ]+([+-])([0-9]{2}):?([0-9]{2})?(:[0-9]{2})?$
{%- endmacro %}

{% macro spark__parse_timestamp_utc(expression) -%}
    {%- set day_first = "regexp_extract(" ~ expression ~ ", '" ~ spark_day_first_pattern() ~ "', " -%}
    case
        when regexp_like({{ expression }}, '^({{ iso_timestamp_pattern(true) }})$')
            then try_cast(
                regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
                    {{ expression }}, '[ ]?[Zz]$', '+00:00'), '[ ]([+-])', '$1'),
                    '([+-][0-9]{2})([0-9]{2})$', '$1:$2'), '([+-][0-9]{2})$', '$1:00'),
                    '^([0-9-]{10}[T ][0-9]{2}:[0-9]{2})([+-])', '$1:00$2')
                    , '([.][0-9]{6})[0-9]+', '$1')
                as timestamp)
        when regexp_like({{ expression }}, '^({{ iso_timestamp_pattern(false) }})$')
            then try_cast(regexp_replace({{ expression }}, '([.][0-9]{6})[0-9]+', '$1') as timestamp)
        when regexp_like({{ expression }}, '^[0-9]{4}-[0-9]{2}-[0-9]{2}$')
            then cast(try_cast({{ expression }} as date) as timestamp)
        when regexp_like({{ expression }}, '{{ spark_day_first_pattern() }}')
            and cast({{ day_first }}6) as int) <= 59
            then make_timestamp(
                cast({{ day_first }}3) as int), cast({{ day_first }}2) as int),
                cast({{ day_first }}1) as int), cast({{ day_first }}4) as int),
                cast({{ day_first }}5) as int), cast({{ day_first }}6) as int),
                concat({{ day_first }}7), {{ day_first }}8), ':',
                    coalesce(nullif({{ day_first }}9), ''), '00'))
            )
    end
{%- endmacro %}

{% macro spark__timestamp_format(expression) -%}
    case
        when {{ spark__parse_timestamp_utc(expression) }} is null then null
        when regexp_like({{ expression }}, '^({{ iso_timestamp_pattern(true) }})$')
            then 'iso_offset'
        when regexp_like({{ expression }}, '^({{ iso_timestamp_pattern(false) }})$')
            then 'iso_no_offset'
        when regexp_like({{ expression }}, '^[0-9]{4}-[0-9]{2}-[0-9]{2}$')
            then 'date_only'
        else 'day_first'
    end
{%- endmacro %}

{#- Spark: date_format with Java's pattern letters (DuckDB's strftime has %-codes). -#}
{% macro spark__format_timestamp_iso(expression) -%}
    date_format({{ expression }}, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
{%- endmacro %}
