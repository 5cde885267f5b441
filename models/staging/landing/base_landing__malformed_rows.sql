-- Raw CSV lines that are not rows of their file (wrong number of fields, an
-- unclosed quote), with file and line: they reach the quarantine as
-- malformed_row, so every raw line is accounted for.
with

malformed_rows as (
    select * from {{ source('landing', 'malformed_rows') }}
),

final as (
    select
        table_name,
        file_path,
        line_number,
        error_type,
        file_path || ':' || cast(line_number as {{ dbt.type_string() }})
            as record_id
    from malformed_rows
)

select * from final
