{#- One row per raw table of the landing contract: was it landed, how many rows
    came and how many were set aside, and what is off without it. The report
    shows the reason next to a metric that is NULL because its source is absent
    (e.g. no surveys: NPS, CSAT, CES). -#}
{%- set bases = raw_table_bases() %}

with

landed_files as (
    select * from {{ ref('base_landing__files') }}
),

quarantine as (
    select * from {{ ref('stg_quarantine__rejected_rows') }}
),

malformed_rows as (
    select * from {{ ref('base_landing__malformed_rows') }}
),

{% for table, base, rows in bases %}
    {{ table }}_rows as (
        select
            '{{ table }}' as source_table,
            count(*) + coalesce(sum(collapsed_copies), 0) as read_rows
        from {{ ref(base) }}
        where {{ rows }}
    ),

{% endfor %}
read_rows as (
    {% for table, base, rows in bases %}
        select * from {{ table }}_rows
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

contract_tables as (
    {% for node in raw_source_tables() %}
        select
            '{{ node.identifier }}' as source_table,
            {{ 'true' if (node.meta or {}).get('required_table') else 'false' }}
                as is_required,
            -- noqa: disable=LT05
            '{{ (node.meta or {}).get("when_absent", "") | replace("'", "''") }}'
            -- noqa: enable=LT05
                as effect_when_absent
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

files as (
    select
        table_name as source_table,
        count(*) as batch_files,
        max(landed_on) as last_landed_on
    from landed_files
    group by table_name
),

malformed as (
    select
        table_name as source_table,
        count(*) as malformed_rows
    from malformed_rows
    group by table_name
),

quarantined as (
    select
        source_table,
        sum(raw_rows) as quarantined_rows
    from quarantine
    group by source_table
),

final as (
    select
        contract_tables.source_table,
        contract_tables.is_required,
        coalesce(files.batch_files, 0) > 0 as is_landed,
        cast(coalesce(files.batch_files, 0) as bigint) as batch_files,
        files.last_landed_on,
        cast(
            coalesce(read_rows.read_rows, 0)
            + coalesce(malformed.malformed_rows, 0) as bigint
        ) as raw_rows,
        cast(coalesce(quarantined.quarantined_rows, 0) as bigint)
            as quarantined_rows,
        case
            when coalesce(files.batch_files, 0) = 0
                then contract_tables.effect_when_absent
        end as effect_when_absent
    from contract_tables
    left join files
        on contract_tables.source_table = files.source_table
    left join read_rows
        on contract_tables.source_table = read_rows.source_table
    left join malformed
        on contract_tables.source_table = malformed.source_table
    left join quarantined
        on contract_tables.source_table = quarantined.source_table
)

select * from final
