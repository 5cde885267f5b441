{#- raw_rows_reconcile: on a raw source table, proves that every raw row
    ends in exactly one place: raw rows = rows of the clean staging models +
    rows set aside in stg_quarantine__rejected_rows (rejected rows and
    collapsed exact duplicates, counted in raw_rows). Fails with the three
    counts when they do not add up. -#}
{% test raw_rows_reconcile(model, clean_models, source_table) %}
    with

    raw_rows as (
        select count(*) as raw_rows from {{ model }}
    ),

    clean_rows as (
        select sum(clean_rows) as clean_rows
        from (
            {% for clean_model in clean_models %}
                select count(*) as clean_rows from {{ ref(clean_model) }}
                {% if not loop.last %}union all{% endif %}
            {% endfor %}
        ) as per_model
    ),

    quarantined_rows as (
        select coalesce(sum(raw_rows), 0) as quarantined_rows
        from {{ ref('stg_quarantine__rejected_rows') }}
        where source_table = '{{ source_table }}'
    )

    select
        raw_rows.raw_rows,
        clean_rows.clean_rows,
        quarantined_rows.quarantined_rows
    from raw_rows
    cross join clean_rows
    cross join quarantined_rows
    where
        raw_rows.raw_rows
        != clean_rows.clean_rows + quarantined_rows.quarantined_rows
{% endtest %}
