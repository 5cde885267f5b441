{#-
    parse_timestamp_utc(expression): raw timestamp text to a UTC timestamp
    (without time zone), NULL when unparseable. Accepted formats:
      - ISO 8601 with offset:    2024-03-05T14:22:10+01:00
      - day-first with offset:   05/03/2024 14:22:10 +0100
      - ISO 8601 without offset: 2024-03-05T14:22:10 (read as UTC)
    timestamp_format(expression) names which one matched, so staging can flag
    rows that needed the second format or an assumed offset.
-#}
{% macro parse_timestamp_utc(expression) -%}
    {{ return(adapter.dispatch('parse_timestamp_utc', 'retention_warehouse')(expression)) }}
{%- endmacro %}

{#- DuckDB: try_strptime returns TIMESTAMPTZ for %z formats; the session time
    zone is UTC (profiles.yml), so the cast to TIMESTAMP yields UTC wall time. -#}
{% macro duckdb__parse_timestamp_utc(expression) -%}
    coalesce(
        cast(try_strptime({{ expression }}, '%Y-%m-%dT%H:%M:%S%z') as timestamp),
        cast(try_strptime({{ expression }}, '%d/%m/%Y %H:%M:%S %z') as timestamp),
        try_strptime({{ expression }}, '%Y-%m-%dT%H:%M:%S')
    )
{%- endmacro %}

{% macro timestamp_format(expression) -%}
    {{ return(adapter.dispatch('timestamp_format', 'retention_warehouse')(expression)) }}
{%- endmacro %}

{% macro duckdb__timestamp_format(expression) -%}
    case
        when
            try_strptime({{ expression }}, '%Y-%m-%dT%H:%M:%S%z') is not null
            then 'iso_offset'
        when
            try_strptime({{ expression }}, '%d/%m/%Y %H:%M:%S %z') is not null
            then 'day_first'
        when
            try_strptime({{ expression }}, '%Y-%m-%dT%H:%M:%S') is not null
            then 'iso_no_offset'
    end
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
