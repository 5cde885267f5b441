{#-
    as_of_date_setting(): the pinned as-of date (YYYY-MM-DD) as configured, or ''
    when it is not pinned (then int_as_of_dates_resolved uses the last loaded
    transaction date).

    The var as_of_date wins; without it the environment variable
    RETENTION_AS_OF_DATE is read. `retention refresh` pins the as-of date
    through the environment because the date changes every day: dbt re-parses
    the whole project whenever its --vars change, and re-parses (and
    re-validates) the project's files whenever an environment variable they
    read at parse time changes. The variable is read only when dbt executes
    (execute is true), never while parsing, so a new date changes nothing dbt
    parsed and the daily run keeps a partial parse with nothing to redo. That
    is sound because the date shapes no ref, config or test: only the SQL that
    runs.
-#}
{% macro as_of_date_setting() -%}
    {%- if execute -%}
        {{ return(var('as_of_date') or env_var('RETENTION_AS_OF_DATE', '')) }}
    {%- endif -%}
    {{ return(var('as_of_date')) }}
{%- endmacro %}
