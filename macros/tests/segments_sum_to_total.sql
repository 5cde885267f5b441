{#- segments_sum_to_total: for additive columns, the rows of every segment
    type add up to the total row of the same group (e.g. the same period).
    segment_column holds the segment type; total_value marks the total rows;
    group_by lists the columns that must match between segment and total. -#}
{% test segments_sum_to_total(
    model, columns, segment_types, group_by=['period_start'],
    segment_column='segment_type', total_value='total') %}
    with

    totals as (
        select * from {{ model }}
        where {{ segment_column }} = '{{ total_value }}'
    ),

    segment_sums as (
        select
            {% for column in group_by %}{{ column }}, {% endfor %}
            {{ segment_column }},
            {% for column in columns %}
                sum({{ column }}) as {{ column }}{% if not loop.last %},{% endif %}
            {% endfor %}
        from {{ model }}
        where {{ segment_column }} in ('{{ segment_types | join("', '") }}')
        group by
            {% for column in group_by %}{{ column }}, {% endfor %}
            {{ segment_column }}
    )

    select segment_sums.*
    from segment_sums
    inner join totals
        on
            {% for column in group_by %}
                segment_sums.{{ column }} = totals.{{ column }} and
            {% endfor %}
            1 = 1
    where
        {% for column in columns %}
            coalesce(segment_sums.{{ column }}, 0) != coalesce(totals.{{ column }}, 0)
            {% if not loop.last %}or{% endif %}
        {% endfor %}
{% endtest %}
