{#-
    matches_pattern(expression, pattern): true when the whole text matches the
    regular expression (RE2 / POSIX ERE subset: classes, {m,n}, ?, |, groups),
    false when it does not, NULL for NULL. Every strict grammar of the raw values
    (numbers, dates, timestamps) is written with it, so the same text is accepted
    on every engine.
-#}
{% macro matches_pattern(expression, pattern) -%}
    {{ return(adapter.dispatch('matches_pattern', 'retention_warehouse')(expression, pattern)) }}
{%- endmacro %}

{% macro duckdb__matches_pattern(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{#- Spark, Snowflake, Trino: regexp_like (anchored here). -#}
{% macro default__matches_pattern(expression, pattern) -%}
    regexp_like({{ expression }}, '^({{ pattern }})$')
{%- endmacro %}

{#-
    matches_pattern on PostgreSQL.
    Why it differs: PostgreSQL has no regexp_full_match; its `~` operator matches
    anywhere, so the pattern is anchored.
-#}
{% macro postgres__matches_pattern(expression, pattern) -%}
    ({{ expression }} ~ '^({{ pattern }})$')
{%- endmacro %}

{#- Spark: regexp_like finds a match anywhere (Java regex), so the pattern is anchored. -#}
{% macro spark__matches_pattern(expression, pattern) -%}
    regexp_like({{ expression }}, '^({{ pattern }})$')
{%- endmacro %}
