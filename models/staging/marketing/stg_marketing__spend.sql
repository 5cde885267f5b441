with

spend as (
    select * from {{ ref('base_marketing__spend') }}
),

final as (
    select
        spend_month,
        country_code,
        acquisition_channel,
        currency_code,
        spend_amount,
        rate_to_reporting as fx_rate_to_reporting,
        spend_amount_reporting
    from spend
    where rejection_reason is null
)

select * from final
