{#-
    as_of_date_setting(): the pinned as-of date (YYYY-MM-DD) as configured, or ''
    when it is not pinned (then int_as_of_dates_resolved uses the last loaded
    transaction date).

    The var as_of_date wins; without it the environment variable
    RETENTION_AS_OF_DATE is read. `retention refresh` pins the as-of date
    through the environment: a --vars value that changes every day makes dbt
    re-parse the whole project on every run, an environment variable only the
    files that read it (dbt's partial parsing).
-#}
{% macro as_of_date_setting() -%}
    {{ return(var('as_of_date') or env_var('RETENTION_AS_OF_DATE', '')) }}
{%- endmacro %}
