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
