{#- Use the configured schema name as is (staging, intermediate, marts,
    reference, snapshots) instead of dbt's default <target>_<custom> prefix, so
    BI tools always find the marts in schema `marts`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
