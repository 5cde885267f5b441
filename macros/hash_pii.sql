{#-
    hash_pii(expression): the one way personal or identifying values are
    turned into join keys for consumer-facing models (SHA-256, hex). Marts
    expose these hashes, never the raw value.
-#}
{% macro hash_pii(expression) -%}
    {{ return(adapter.dispatch('hash_pii', 'retention_warehouse')(expression)) }}
{%- endmacro %}

{% macro duckdb__hash_pii(expression) -%}
    sha256(cast({{ expression }} as varchar))
{%- endmacro %}

{% macro default__hash_pii(expression) -%}
    sha2(cast({{ expression }} as varchar), 256)
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
