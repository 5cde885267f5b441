-- The landing record with each file's place in the landing order: batch (the
-- run that first saw the file), then modification time, then path, so a file
-- landed by a later run always counts as newer whatever its name.
with

landed_files as (
    select * from {{ source('landing', 'landed_files') }}
),

final as (
    select
        table_name,
        file_path,
        file_name,
        file_kind,
        encoding,
        file_size,
        file_modified_epoch,
        landing_batch,
        landed_on,
        first_landed_at,
        row_number() over (
            order by landing_batch, file_modified_epoch, file_path
        ) as landing_sequence
    from landed_files
)

select * from final
