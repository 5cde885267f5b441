{#-
    normalize_email(expression): the form e-mails are matched in
    (docs/metric_decisions.md, "Duplicate persons"): Unicode NFC, trimmed,
    lower-cased; NULL when blank. Plus-tags (ann+shop@x.com) and dots
    (a.nn@x.com) are kept: whether they reach the same mailbox is the mail
    provider's rule, not a property of the address, so treating them as one
    person would merge different people on providers that do not fold them.
-#}
{% macro normalize_email(expression) -%}
    {{ return(adapter.dispatch('normalize_email', 'retention_warehouse')(expression)) }}
{%- endmacro %}

{% macro duckdb__normalize_email(expression) -%}
    nullif(lower(trim(nfc_normalize({{ expression }}))), '')
{%- endmacro %}

{#- Spark, Snowflake, Trino: no NFC function everywhere; trim and lower only. -#}
{% macro default__normalize_email(expression) -%}
    nullif(lower(trim({{ expression }})), '')
{%- endmacro %}

{#-
    normalize_email on PostgreSQL.
    Why it differs: PostgreSQL spells NFC normalisation normalize(text, NFC)
    (PostgreSQL 13+, UTF-8 databases); DuckDB has nfc_normalize(). And lower()
    follows the collation: under the C locale it lowers ASCII only (JOSÉ stays
    josÉ), so it is asked for the ICU root collation, which lowers every letter
    as DuckDB does (PostgreSQL built with ICU, as Debian's is).
-#}
{% macro postgres__normalize_email(expression) -%}
    nullif(lower(trim(normalize({{ expression }}, NFC)) collate "und-x-icu"), '')
{%- endmacro %}

{#- Spark: Spark SQL has no NFC function; ICU4J, which Spark 4 ships for its
    collations, has a static NFC (Normalizer.compose, compat = false) that
    reflect() can call. NULL in, NULL out (reflect is not called on NULL). -#}
{% macro spark__normalize_email(expression) -%}
    nullif(lower(trim(case when {{ expression }} is not null then
        reflect('com.ibm.icu.text.Normalizer', 'compose', {{ expression }}, false) end)), '')
{%- endmacro %}
