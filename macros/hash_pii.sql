{#-
    hash_pii(expression): the one way personal or identifying values are
    turned into join keys (customer_key, email_hash): HMAC-SHA256 (RFC 2104,
    macros/hmac_sha256.sql) of the value's text, keyed with the secret in
    RETENTION_HASH_KEY, as lowercase hex. Without the key nobody can recompute
    a key from a customer id, so an erased person's history cannot be linked
    back to them. Marts expose these hashes, never the raw value.

    Only in tables: a view stores its SQL in the catalog, and with it the key.
-#}
{% macro hash_pii(expression) -%}
    {%- if config.get('materialized') == 'view' -%}
        {{ exceptions.raise_compiler_error(
            "hash_pii() is used in the view " ~ this ~ ": a view keeps its SQL, and with it the "
            ~ "RETENTION_HASH_KEY secret, in the warehouse catalog. Materialise the model as a table.") }}
    {%- endif -%}
    {{ return(hmac_sha256(expression, retention_hash_key())) }}
{%- endmacro %}


{#-
    retention_hash_key(): the secret of hash_pii. RETENTION_HASH_KEY when set;
    otherwise the public sample key (var sample_hash_key), which
    check_hash_key() allows only for data written by `retention generate`.
-#}
{% macro retention_hash_key() -%}
    {{ return(env_var('RETENTION_HASH_KEY', '') or var('sample_hash_key')) }}
{%- endmacro %}


{#-
    check_hash_key(): on-run-start. A run on real data without
    RETENTION_HASH_KEY stops here with one message, before any key is made.
    Generated data (its folder holds the generator's _manifest.json) may use
    the documented sample key. The key must be 32 to 64 bytes (RFC 2104: at
    least the digest length; longer keys would first be hashed, which the
    compile-time padding of hmac_sha256 does not do).
-#}
{% macro check_hash_key() %}
    {%- if not execute -%}
        {{ return('select 1') }}
    {%- endif -%}
    {%- set key = env_var('RETENTION_HASH_KEY', '') -%}
    {%- if key == '' -%}
        {%- set generated = false -%}
        {%- if target.type == 'duckdb' -%}
            {%- set raw_dir = env_var('RETENTION_RAW_DIR', 'data/sample') | replace("'", "''") -%}
            {%- set found = run_query("select count(*) from glob('" ~ raw_dir ~ "/_manifest.json')") -%}
            {%- set generated = found.columns[0].values()[0] > 0 -%}
        {%- endif -%}
        {%- if not generated -%}
            {{ exceptions.raise_compiler_error(
                "RETENTION_HASH_KEY is not set. It is the secret that customer_key and email_hash are "
                ~ "keyed with (HMAC-SHA256): set it to 32-64 random characters (e.g. `openssl rand -hex 32`), "
                ~ "keep it secret and never change it (a new key changes every customer_key). Only data "
                ~ "written by `retention generate` may go without it (README, Settings).") }}
        {%- endif -%}
    {%- elif key.encode('utf-8') | length < 32 or key.encode('utf-8') | length > 64 -%}
        {{ exceptions.raise_compiler_error(
            "RETENTION_HASH_KEY must be 32 to 64 bytes long (it is " ~ key.encode('utf-8') | length
            ~ "): e.g. `openssl rand -hex 32` gives 64 characters.") }}
    {%- endif -%}
    select 1
{% endmacro %}
