{#-
    The segments every period KPI is reported by: the total and one segment
    per region, acquisition channel and tier (the tier at the period end).
    Aggregations use these grouping sets so the segment logic lives here only.
    The input relation must carry period_start, region, acquisition_channel
    and tier_at_end.
-#}
{% macro segment_grouping_sets() -%}
    grouping sets (
        (period_start),
        (period_start, region),
        (period_start, acquisition_channel),
        (period_start, tier_at_end)
    )
{%- endmacro %}

{% macro segment_type_column() -%}
    case
        when grouping(region) = 0 then 'region'
        when grouping(acquisition_channel) = 0 then 'acquisition_channel'
        when grouping(tier_at_end) = 0 then 'tier'
        else 'total'
    end
{%- endmacro %}

{% macro segment_value_column() -%}
    case
        when grouping(region) = 0 then region
        when grouping(acquisition_channel) = 0 then acquisition_channel
        when grouping(tier_at_end) = 0 then tier_at_end
        else 'all'
    end
{%- endmacro %}
