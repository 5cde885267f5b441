{#- unique_combination: no two rows share the same values in these columns
    (a multi-column primary key test, written here because hub packages such
    as dbt_utils cannot be installed). -#}
{% test unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as rows_with_this_key
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
