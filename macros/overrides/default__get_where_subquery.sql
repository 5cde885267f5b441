{#- Override of dbt-core 1.11.16's default__get_where_subquery (dbt-adapters 1.24.5). -#}

{#-
    The `where` config of a data test, with one addition: the token
    __tested_relation__ in it stands for the relation under test. It lets a
    test check only the rows the last run wrote, without naming the model
    twice:

        where: "refreshed_at = (select max(refreshed_at) from __tested_relation__)"

    The incremental customer models stamp every row they write with the run's
    start time (refreshed_at), so in a full build that is every row and in a
    daily refresh the refreshed slice (docs/refresh.md). dbt looks in the root
    project first for macros of the dbt namespace; without the token this is
    dbt's macro unchanged.
-#}
{% macro default__get_where_subquery(relation) -%}
    {% set where = config.get('where', '') %}
    {% if where %}
        {%- set where = where | replace('__tested_relation__', relation | string) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {% do return(filtered) %}
    {%- else -%}
        {% do return(relation) %}
    {%- endif -%}
{%- endmacro %}
