{#- raw_rows_reconcile: on a raw source table, proves that every raw line
    ends in exactly one place: raw rows (the rows DuckDB read plus the lines
    it could not read as rows, raw._malformed_rows) = rows of the clean
    staging models + rows set aside in stg_quarantine__rejected_rows (rejected
    rows, malformed lines and collapsed exact duplicates, counted in
    raw_rows). A clean model is a name, or {name, where} for the clean rows of
    a model. Fails with the three counts when they do not add up. -#}
{% test raw_rows_reconcile(model, clean_models, source_table) %}
    with

    raw_rows as (
        select
            (select count(*) from {{ model }})
            + (
                select count(*) from {{ ref('base_landing__malformed_rows') }}
                where table_name = '{{ source_table }}'
            ) as raw_rows
    ),

    clean_rows as (
        select sum(clean_rows) as clean_rows
        from (
            {% for clean_model in clean_models %}
                {%- set name = clean_model.name if clean_model is mapping else clean_model %}
                select count(*) as clean_rows from {{ ref(name) }}
                {% if clean_model is mapping and clean_model.where %}
                    where {{ clean_model.where }}
                {% endif %}
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
