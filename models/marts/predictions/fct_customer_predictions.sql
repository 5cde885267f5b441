-- One row per customer at the as-of date: the purchase history the value
-- models use, what they predict (int_customers_predicted, a dbt Python
-- model) and the RFM scores and segment (int_customers_rfm_scored).
with

histories as (
    select * from {{ ref('int_customers_rfm_scored') }}
),

predictions as (
    select * from {{ ref('int_customers_predicted') }}
),

final as (
    select
        {{ hash_pii('histories.customer_id') }} as customer_key,
        histories.as_of_date,
        histories.first_purchase_date,
        histories.last_purchase_date,
        histories.frequency,
        histories.recency_days,
        histories.age_days,
        histories.days_since_last_purchase,
        histories.monetary_value,
        histories.is_closed,
        predictions.p_alive,
        predictions.expected_purchases_90d,
        predictions.expected_purchases_365d,
        predictions.expected_average_order_value,
        predictions.expected_revenue_12m,
        predictions.predicted_clv_12m,
        histories.recency_score,
        histories.frequency_score,
        histories.monetary_score,
        histories.rfm_segment,
        predictions.time_unit
    from histories
    left join predictions
        on histories.customer_id = predictions.customer_id
)

select * from final
