-- One row per customer: the RFM segment (every engine) and the model-based
-- predictions dim_customers shows, p_alive and predicted_clv_12m, where the
-- engine runs the value models (dbt Python models: DuckDB). Elsewhere the
-- predictions relation is empty and both columns are NULL (macro
-- customer_predictions_relation, docs/predictions.md).
with

rfm as (
    select * from {{ ref('int_customers_rfm_scored') }}
),

predictions as (
    select * from {{ customer_predictions_relation() }}
),

final as (
    select
        rfm.customer_id,
        rfm.rfm_segment,
        predictions.p_alive,
        predictions.predicted_clv_12m
    from rfm
    left join predictions
        on rfm.customer_id = predictions.customer_id
)

select * from final
