-- Per customer, the parts of lifetime value as of the as-of date: orders
-- (purchases), net revenue, lifespan (last - first purchase + 1 days), tenure
-- (as-of - acquisition + 1 days) and the CAC of the acquisition channel and
-- month (NULL when unknown).
with

customers as (
    select * from {{ ref('int_customers_summarised') }}
    where not is_lead
),

acquisition_costs as (
    select * from {{ ref('int_acquisition_costs_allocated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

final as (
    select
        customers.customer_id,
        customers.acquisition_channel,
        customers.region,
        customers.country_code,
        customers.acquisition_date,
        {{ period_start('customers.acquisition_date') }} as acquisition_cohort,
        customers.first_purchase_date,
        customers.last_purchase_date,
        customers.purchases as orders,
        customers.net_revenue,
        {{ dbt.datediff('customers.first_purchase_date',
            'customers.last_purchase_date', 'day') }} + 1 as lifespan_days,
        {{ dbt.datediff('customers.acquisition_date',
            'as_of.as_of_date', 'day') }} + 1 as tenure_days,
        acquisition_costs.cac
    from customers
    cross join as_of
    left join acquisition_costs
        on
            {{ month_start('customers.acquisition_date') }}
            = acquisition_costs.acquisition_month
            and customers.acquisition_channel
            = acquisition_costs.acquisition_channel
)

select * from final
