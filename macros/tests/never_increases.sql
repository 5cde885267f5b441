{#- never_increases: within each group, the column never rises as
    order_by grows (e.g. unbounded retention by period number). -#}
{% test never_increases(model, column_name, group_by, order_by) %}
    with

    ordered as (
        select
            {{ column_name }} as current_value,
            lag({{ column_name }}) over (
                partition by {{ group_by | join(', ') }}
                order by {{ order_by }}
            ) as previous_value
        from {{ model }}
    )

    select *
    from ordered
    where current_value > previous_value
{% endtest %}
