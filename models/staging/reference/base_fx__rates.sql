{{ config(materialized='table') }}

-- FX rates supplied in the landing folder (fx_rates/, same columns as the
-- seed), typed and checked; stg_reference__fx_rates lets them extend and
-- override the bundled seed.
with

source as (
    select * from {{ source('fx', 'fx_rates') }}
),

collapsed as (
    select
        {{ raw_column_list('fx_rates') }},
        min(_source_file) as source_file,
        count(*) - 1 as collapsed_copies
    from source
    group by
        {{ raw_column_list('fx_rates') }}
),

typed as (
    select
        {{ has_blank_required_field('fx_rates') }} as has_blank_required_field,
        nullif(trim(rate_date), '') as rate_date_raw,
        {{ parse_date("nullif(trim(rate_date), '')") }} as rate_date,
        nullif(upper(trim(currency_code)), '') as currency_code,
        nullif(trim(usd_per_unit), '') as usd_per_unit_raw,
        case
            when
                {{ matches_pattern("nullif(trim(usd_per_unit), '')",
                    '[+]?[0-9]{1,8}([.][0-9]{1,10})?') }}
                then {{ cast_or_null("nullif(trim(usd_per_unit), '')",
                    'decimal(18, 10)') }}
        end as usd_per_unit,
        source_file,
        collapsed_copies
    from collapsed
),

row_checked as (
    select
        *,
        case
            when has_blank_required_field then 'missing_required_field'
            when rate_date is null then 'unparseable_date'
            when
                usd_per_unit is null
                or usd_per_unit <= 0
                or not {{ matches_pattern('currency_code', '[A-Z]{3}') }}
                then 'invalid_value'
        end as row_rejection_reason
    from typed
),

-- One rate per currency and day: two different rates for the same day are
-- both set aside (which one is right cannot be told).
final as (
    select
        *,
        coalesce(
            row_rejection_reason,
            case
                when count(*) over (
                    partition by
                        row_rejection_reason is null,
                        rate_date,
                        currency_code
                ) > 1 then 'duplicate'
            end
        ) as rejection_reason
    from row_checked
)

select * from final
