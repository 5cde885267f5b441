{#-
    hmac_sha256(expression, key): HMAC-SHA256 of the UTF-8 text of expression,
    as 64 lowercase hex characters, exactly RFC 2104:

        H((K xor opad) || H((K xor ipad) || message))

    with K the key zero-padded to SHA-256's 64-byte block, ipad = 0x36 and
    opad = 0x5c repeated. Neither DuckDB 1.5 nor PostgreSQL 15 (without
    pgcrypto) has an hmac function, but both have sha256 over bytes, so the two
    padded keys are computed here at compile time and each engine only
    concatenates and hashes. NULL in, NULL out. Keys longer than 64 bytes are
    refused (RFC 2104 would hash them first). tests/python/test_erasure.py
    checks RFC 4231's test vector and Python's hmac module on DuckDB,
    test_postgres_portability.py the same values on PostgreSQL.
-#}
{% macro hmac_sha256(expression, key) -%}
    {%- set pads = hmac_sha256_padded_keys(key) -%}
    {{ return(adapter.dispatch('hmac_sha256', 'retention_warehouse')(expression, pads[0], pads[1])) }}
{%- endmacro %}


{#- [K xor ipad, K xor opad] as hex, for a key of at most 64 bytes. -#}
{% macro hmac_sha256_padded_keys(key) -%}
    {%- set key_bytes = key.encode('utf-8') | list -%}
    {%- if key_bytes | length > 64 -%}
        {{ exceptions.raise_compiler_error("hmac_sha256: the key is longer than 64 bytes.") }}
    {%- endif -%}
    {%- set padded = namespace(inner='', outer='') -%}
    {%- for position in range(64) -%}
        {%- set byte = key_bytes[position] if position < key_bytes | length else 0 -%}
        {%- set padded.inner = padded.inner ~ '%02x' | format(xor_byte(byte, 54)) -%}
        {%- set padded.outer = padded.outer ~ '%02x' | format(xor_byte(byte, 92)) -%}
    {%- endfor -%}
    {{ return([padded.inner, padded.outer]) }}
{%- endmacro %}


{#- Bitwise xor of two integers 0-255 (Jinja has no bitwise operators). -#}
{% macro xor_byte(left, right) -%}
    {%- set result = namespace(value=0) -%}
    {%- for bit in range(8) -%}
        {%- set weight = 2 ** bit -%}
        {%- if (left // weight) % 2 != (right // weight) % 2 -%}
            {%- set result.value = result.value + weight -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(result.value) }}
{%- endmacro %}


{#- DuckDB: sha256 takes a blob and returns hex text; unhex turns hex back into bytes. -#}
{% macro duckdb__hmac_sha256(expression, inner_key, outer_key) -%}
    sha256(unhex('{{ outer_key }}') || unhex(sha256(
        unhex('{{ inner_key }}') || encode(cast({{ expression }} as varchar))
    )))
{%- endmacro %}


{#-
    PostgreSQL: sha256 takes and returns bytea; decode/encode convert hex, and
    convert_to gives the UTF-8 bytes, so the hex equals DuckDB's.
-#}
{% macro postgres__hmac_sha256(expression, inner_key, outer_key) -%}
    encode(sha256(decode('{{ outer_key }}', 'hex') || sha256(
        decode('{{ inner_key }}', 'hex') || convert_to(cast({{ expression }} as text), 'UTF8')
    )), 'hex')
{%- endmacro %}


{#-
    Other engines (Databricks, Snowflake-like spelling: sha2 returns hex, unhex
    returns binary, a string cast to binary is its UTF-8 bytes). spark__ below
    is the same SQL and is run by tests/python/test_spark.py.
-#}
{% macro default__hmac_sha256(expression, inner_key, outer_key) -%}
    sha2(concat(unhex('{{ outer_key }}'), unhex(sha2(
        concat(unhex('{{ inner_key }}'), cast(cast({{ expression }} as string) as binary)), 256
    ))), 256)
{%- endmacro %}

{#- Spark: sha2 returns hex text and unhex binary, and a string cast to binary is
    its UTF-8 bytes (the spelling default__ uses, named for the adapter that runs it). -#}
{% macro spark__hmac_sha256(expression, inner_key, outer_key) -%}
    sha2(concat(unhex('{{ outer_key }}'), unhex(sha2(
        concat(unhex('{{ inner_key }}'), cast(cast({{ expression }} as string) as binary)), 256
    ))), 256)
{%- endmacro %}
