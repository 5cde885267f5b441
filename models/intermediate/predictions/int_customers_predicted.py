"""Per-customer predictions from the fitted BG/NBD and Gamma-Gamma models.

One row per customer of int_customers_rfm_scored: P(alive) at the as-of date,
expected purchases in the next 90 and 365 days, expected order value, expected
revenue and discounted CLV over the next 12 months (var
clv_monthly_discount_rate). Closed accounts are 0 (they will not buy again).
Formulas: retention_warehouse.predict (docs/predictions.md).
"""


def model(dbt, session):
    """Apply the checked parameters (int_value_models_checked) to every history."""
    from retention_warehouse.predict.value_model import model_from_rows, predict_customers

    dbt.config(materialized="table")
    discount = float(dbt.config.meta_get("clv_monthly_discount_rate"))
    histories = dbt.ref("int_customers_rfm_scored").df()
    histories = histories.sort_values("customer_id", ignore_index=True)
    bg_params, gg_params, time_unit = model_from_rows(dbt.ref("int_value_models_checked").df())
    predictions = predict_customers(histories, bg_params, gg_params, time_unit, discount,
                                    is_closed=histories["is_closed"].to_numpy(dtype=bool))
    return histories[["customer_id"]].join(predictions).assign(time_unit=time_unit)
