{#- expression_is_true: every row (optionally only rows matching `where`)
    satisfies the boolean SQL expression. Used for the metric identities of
    docs/metrics.md on the real marts. -#}
{% test expression_is_true(model, expression, where=none, column_name=none) %}
    select *
    from {{ model }}
    where
        not coalesce(({{ expression }}), false)
        {% if where %}and ({{ where }}){% endif %}
{% endtest %}
