{#-
    row_fingerprint(expression): a 64-bit integer hash of a value or of a whole
    row (pass a relation alias), for the change detection behind the
    incremental customer models (int_customers_fingerprinted). Equal inputs
    give equal hashes on one engine; the sum of the row hashes of a set of rows
    is a fingerprint of the set that does not depend on row order.
-#}
{% macro row_fingerprint(expression) -%}
    {{ return(adapter.dispatch('row_fingerprint', 'retention_warehouse')(expression)) }}
{%- endmacro %}

{#- DuckDB hashes any value, a row (struct) included, to a ubigint. -#}
{% macro duckdb__row_fingerprint(expression) -%}
    hash({{ expression }})
{%- endmacro %}

{% macro default__row_fingerprint(expression) -%}
    {{ exceptions.raise_compiler_error(
        "row_fingerprint has no variant for the " ~ adapter.type() ~ " adapter: add "
        ~ adapter.type() ~ "__row_fingerprint to macros/row_fingerprint.sql.") }}
{%- endmacro %}


{#-
    row_fingerprint on PostgreSQL.
    Why it differs: PostgreSQL has no hash of an arbitrary value; the text form
    of the row (or value) hashed by hashtextextended gives a bigint that is as
    stable as the text form.
-#}
{% macro postgres__row_fingerprint(expression) -%}
    hashtextextended(cast({{ expression }} as text), 0)
{%- endmacro %}
