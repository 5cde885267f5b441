"""BG/NBD and Gamma-Gamma fitted by maximum likelihood on every customer's history.

One row per model parameter. The fit is retention_warehouse.predict (formulas
from the papers, scipy L-BFGS-B). A fit that does not converge gives rows with
is_converged false and the reason in fit_message; int_value_models_checked then
fails the build with that one line (an exception here would end in a Python
traceback). The time unit is var clv_time_unit (default week, the papers'
unit), passed in through the model's meta config. Runs only where dbt runs
Python models in-process (DuckDB); see docs/predictions.md.
"""

import pandas as pd


def model(dbt, session):
    """Fit both models on int_customers_rfm_scored."""
    from retention_warehouse.predict.mle import FitError
    from retention_warehouse.predict.value_model import failed_parameter_rows, fit_value_model

    dbt.config(materialized="table")
    time_unit = dbt.config.meta_get("clv_time_unit")
    # dbt finds refs only in plain call chains (dbt.ref(...).df()), not through a subscript.
    resolved = dbt.ref("int_as_of_dates_resolved").df()
    as_of_dates = resolved["as_of_date"].dropna()
    # No as-of date (no clean transaction; the landing guards normally stop the build first)
    as_of = pd.Timestamp(as_of_dates.iloc[0]).date() if len(as_of_dates) else None
    histories = dbt.ref("int_customers_rfm_scored").df()
    histories = histories.sort_values("customer_id", ignore_index=True)
    try:
        if as_of is None:
            raise FitError("there is no as-of date (no clean transaction was landed)")
        if histories.empty:
            raise FitError("there is no customer with a purchase on or before the as-of date")
        rows = fit_value_model(histories, time_unit).parameter_rows(as_of)
    except FitError as error:
        when = f" at as-of date {as_of}" if as_of is not None else ""
        message = (f"Value models not fitted{when}: {error}. "
                   "See docs/predictions.md.")
        rows = failed_parameter_rows(message, time_unit, as_of, len(histories))
    return rows
