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

{#-
    row_fingerprint on Spark.
    Why it differs: Spark has no row value of a relation alias and no row(...)
    constructor; xxhash64 (a signed 64-bit hash of any number of values) takes
    struct(alias.*) for a whole row. A bare alias, or a bare alias inside
    row(...), becomes struct(alias.*); anything else is hashed as it is.
-#}
{% macro spark__row_fingerprint(expression) -%}
    {%- set text = expression | trim -%}
    {%- if modules.re.match('^\w+$', text) -%}
        xxhash64(struct({{ text }}.*))
    {%- elif text.startswith('row(') and text.endswith(')') -%}
        {%- set ns = namespace(depth=0, current='', quoted=false) -%}
        {%- set arguments = [] -%}
        {%- for char in text[4:-1] -%}
            {%- if char == "'" -%}{%- set ns.quoted = not ns.quoted -%}{%- endif -%}
            {%- if not ns.quoted and char == '(' -%}{%- set ns.depth = ns.depth + 1 -%}{%- endif -%}
            {%- if not ns.quoted and char == ')' -%}{%- set ns.depth = ns.depth - 1 -%}{%- endif -%}
            {%- if char == ',' and ns.depth == 0 and not ns.quoted -%}
                {%- do arguments.append(ns.current | trim) -%}
                {%- set ns.current = '' -%}
            {%- else -%}
                {%- set ns.current = ns.current ~ char -%}
            {%- endif -%}
        {%- endfor -%}
        {%- do arguments.append(ns.current | trim) -%}
        {%- set hashed = [] -%}
        {%- for argument in arguments -%}
            {%- do hashed.append('struct(' ~ argument ~ '.*)'
                if modules.re.match('^\w+$', argument) else argument) -%}
        {%- endfor -%}
        xxhash64({{ hashed | join(', ') }})
    {%- else -%}
        xxhash64({{ expression }})
    {%- endif -%}
{%- endmacro %}
