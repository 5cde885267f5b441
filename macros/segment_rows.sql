{#-
    segment_rows(relation, dimensions, exclude): the rows of a relation (a CTE
    name), each once per segment it belongs to, with segment_type and
    segment_value in front of the relation's columns: once in the total
    (segment_type 'total', segment_value 'all') and once per dimension
    (segment_type = the dimension's name, segment_value = its column as text).
    Aggregate the result grouped by segment_type and segment_value (and the
    period): the segment list is read from dimensions only, by default var
    period_segments (dbt_project.yml), so a new segment is one line there.
    exclude names dimensions the relation cannot carry (leads have no tier).
-#}
{% macro segment_rows(relation, dimensions=none, exclude=[]) -%}
    {%- set dimensions = var('period_segments') if dimensions is none
        else dimensions -%}
    {%- for name in exclude if name not in dimensions -%}
        {{ exceptions.raise_compiler_error(
            "segment_rows: exclude names '" ~ name ~ "', which is not a segment of "
            ~ (dimensions.keys() | list | join(', '))) }}
    {%- endfor -%}
    {%- if 'total' in dimensions -%}
        {{ exceptions.raise_compiler_error(
            "segment_rows: 'total' is always there; it is not a dimension") }}
    {%- endif -%}
    {#- One scan of the relation, crossed with the segment types (a union of one
        select per segment would scan it once per segment, and make engines
        materialise a relation used several times). -#}
    select
        segments.segment_type,
        case segments.segment_type
            when 'total' then 'all'
            {%- for segment_type, column in dimensions.items()
                if segment_type not in exclude %}
            when '{{ segment_type }}'
                then cast({{ column }} as {{ dbt.type_string() }})
            {%- endfor %}
        end as segment_value,
        {{ relation }}.*
    from {{ relation }}
    cross join (
        select 'total' as segment_type
        {%- for segment_type in dimensions if segment_type not in exclude %}
        union all
        select '{{ segment_type }}' as segment_type
        {%- endfor %}
    ) as segments
{%- endmacro %}
