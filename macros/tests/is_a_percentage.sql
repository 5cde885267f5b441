{#- is_a_percentage: the column is a percentage, 0 to 100 inclusive, or NULL
    (a rate whose denominator is 0 is NULL, never 0: docs/metrics.md). Returns
    the rows outside that range. -#}
{% test is_a_percentage(model, column_name) %}
    select *
    from {{ model }}
    where
        {{ column_name }} is not null
        and ({{ column_name }} < 0 or {{ column_name }} > 100)
{% endtest %}
