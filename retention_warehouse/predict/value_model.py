"""Fit BG/NBD and Gamma-Gamma on customer histories and predict per customer.

This is what the warehouse's dbt Python models call (``int_value_models_fitted``
and ``int_customers_predicted``) and what ``retention predict-check`` uses on
an earlier cut-off. Histories are in days; the models are fitted in the time
unit of dbt var ``clv_time_unit`` (default ``week``, the papers' unit), so
``alpha`` is per that unit. Horizons are given in days and converted, so the
predictions do not depend on the unit (a test proves it).

Per customer (docs/metric_decisions.md, "Predictions"):

* ``p_alive``: BG/NBD P(alive) at the as-of date;
* ``expected_purchases_90d`` / ``_365d``: BG/NBD equation (10) over the next 90 / 365 days;
* ``expected_average_order_value``: Gamma-Gamma E[M | x, m_x] (population mean when x = 0);
* ``expected_revenue_12m``: expected purchases in the next 365 days x expected order value;
* ``predicted_clv_12m``: the same revenue in 12 steps of 365 / 12 days, each step's
  expected purchases x expected order value discounted by (1 + monthly rate)^k.

A closed account (closure or erasure request on or before the as-of date) will
not buy again: its p_alive, expected purchases and values are 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from retention_warehouse.predict import bgnbd, gamma_gamma
from retention_warehouse.predict.mle import FitError, FitResult

DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
CLV_MONTHS = 12
CLV_MONTH_DAYS = 365.0 / 12  # 12 steps make exactly the 365 days of expected_purchases_365d
PREDICTION_COLUMNS = ("p_alive", "expected_purchases_90d", "expected_purchases_365d",
                      "expected_average_order_value", "expected_revenue_12m",
                      "predicted_clv_12m")
PARAMETER_COLUMNS = ("parameter_key", "model_name", "parameter_name", "parameter_value",
                     "standard_error", "log_likelihood", "is_converged", "iterations",
                     "gradient_norm", "customers_fitted", "time_unit", "days_per_unit",
                     "as_of_date", "fit_note")


def days_per_unit(time_unit: str) -> float:
    """Days in one model time unit; a clear error for an unknown unit."""
    try:
        return DAYS_PER_UNIT[time_unit]
    except KeyError:
        raise FitError(f"var clv_time_unit must be one of {', '.join(DAYS_PER_UNIT)}, "
                       f"got {time_unit!r}") from None


@dataclass(frozen=True)
class ValueModel:
    """The fitted BG/NBD and Gamma-Gamma models and the time unit they were fitted in."""

    bgnbd: FitResult
    gamma_gamma: FitResult
    time_unit: str

    def parameter_rows(self, as_of_date: object) -> pd.DataFrame:
        """One row per model parameter (the shape of ``fct_customer_value_model``)."""
        rows = []
        for model_name, fit in (("bg_nbd", self.bgnbd), ("gamma_gamma", self.gamma_gamma)):
            for name, value, error in zip(fit.names, fit.values, fit.standard_errors,
                                          strict=True):
                rows.append({
                    "parameter_key": f"{model_name}.{name}", "model_name": model_name,
                    "parameter_name": name,
                    # a = b = infinity (homogeneous drop-out) is NULL, explained by fit_note
                    "parameter_value": value if np.isfinite(value) else None,
                    "standard_error": error if np.isfinite(error) else None,
                    "log_likelihood": fit.log_likelihood, "is_converged": fit.converged,
                    "iterations": fit.iterations, "gradient_norm": fit.gradient_norm,
                    "customers_fitted": fit.customers, "time_unit": self.time_unit,
                    "days_per_unit": days_per_unit(self.time_unit), "as_of_date": as_of_date,
                    "fit_note": fit.note, "fit_message": None,
                })
        frame = pd.DataFrame(rows, columns=[*PARAMETER_COLUMNS, "fit_message"])
        return frame.astype({"parameter_value": float, "standard_error": float,
                             "iterations": "Int64", "fit_note": "string",
                             "fit_message": "string"})


def failed_parameter_rows(message: str, time_unit: str, as_of_date: object,
                          customers: int) -> pd.DataFrame:
    """The rows of a fit that failed: no estimates, is_converged false and the reason.

    int_value_models_checked turns them into a build failure with ``message``.
    """
    rows = [{"parameter_key": f"{model_name}.{name}", "model_name": model_name,
             "parameter_name": name, "parameter_value": None, "standard_error": None,
             "log_likelihood": None, "is_converged": False, "iterations": None,
             "gradient_norm": None, "customers_fitted": customers, "time_unit": time_unit,
             "days_per_unit": DAYS_PER_UNIT.get(time_unit), "as_of_date": as_of_date,
             "fit_note": None, "fit_message": message}
            for model_name, names in (("bg_nbd", bgnbd.REPORTED),
                                      ("gamma_gamma", gamma_gamma.NAMES))
            for name in names]
    frame = pd.DataFrame(rows, columns=[*PARAMETER_COLUMNS, "fit_message"])
    return frame.astype({"parameter_value": float, "standard_error": float,
                         "log_likelihood": float, "iterations": "Int64",
                         "gradient_norm": float, "days_per_unit": float,
                         "fit_note": "string", "fit_message": "string"})


def _in_units(histories: pd.DataFrame, time_unit: str
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T, m) arrays with times in the model unit."""
    unit = days_per_unit(time_unit)
    x = histories["frequency"].to_numpy(dtype=float)
    t_x = histories["recency_days"].to_numpy(dtype=float) / unit
    T = histories["age_days"].to_numpy(dtype=float) / unit
    m = histories["monetary_value"].to_numpy(dtype=float, na_value=np.nan)
    return x, t_x, T, m


def fit_value_model(histories: pd.DataFrame, time_unit: str = "week") -> ValueModel:
    """Fit both models on histories with columns frequency, recency_days, age_days,
    monetary_value (days; monetary NaN/None without a repeat purchase).

    Raises :class:`FitError` (one line saying why) when either fit fails.
    """
    x, t_x, T, m = _in_units(histories, time_unit)
    repeaters = int((x > 0).sum())
    try:
        bg = bgnbd.fit(x, t_x, T)
        bgnbd.check_prediction_params(bg.params)
        gg = gamma_gamma.fit(x, m)
    except FitError as error:
        raise FitError(f"{error} ({len(x):,} customers, {repeaters:,} with a repeat "
                       "purchase)") from None
    return ValueModel(bgnbd=bg, gamma_gamma=gg, time_unit=time_unit)


def model_from_rows(rows: pd.DataFrame) -> tuple[dict[str, float], dict[str, float], str]:
    """(BG/NBD params, Gamma-Gamma params, time unit) from ``parameter_rows`` output."""
    params = {model: dict(zip(group["parameter_name"], group["parameter_value"].astype(float),
                              strict=True))
              for model, group in rows.groupby("model_name")}
    missing = {"bg_nbd", "gamma_gamma"} - set(params)
    if missing:
        raise FitError(f"fitted parameters missing for {', '.join(sorted(missing))}")
    bg = params["bg_nbd"]
    if np.isnan(bg.get("a", 0.0)) and np.isnan(bg.get("b", 0.0)):
        bg["a"] = bg["b"] = np.inf  # homogeneous drop-out: stored as NULL (see fit_note)
    units = set(rows["time_unit"])
    if len(units) != 1:
        raise FitError(f"fitted parameters disagree on the time unit: {sorted(units)}")
    return params["bg_nbd"], params["gamma_gamma"], units.pop()


def _distinct_histories(histories: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(a row of each distinct (frequency, recency_days, age_days), each row's distinct index).

    The three are whole numbers of days, so one int64 key per row orders and
    groups them much faster than a row-wise unique.
    """
    columns = [histories[name].to_numpy(dtype=np.int64)
               for name in ("frequency", "recency_days", "age_days")]
    if any(column.min(initial=0) < 0 or column.max(initial=0) >= 1 << 21 for column in columns):
        raise FitError("histories must have 0 <= frequency, recency_days, age_days < 2,097,152")
    key = (columns[0] << 42) | (columns[1] << 21) | columns[2]
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return first, inverse


def predict_customers(histories: pd.DataFrame, bg_params: dict[str, float],
                      gg_params: dict[str, float], time_unit: str,
                      monthly_discount_rate: float, is_closed: np.ndarray | None = None
                      ) -> pd.DataFrame:
    """The prediction columns (PREDICTION_COLUMNS) for each row of ``histories``."""
    if not 0 <= monthly_discount_rate < 1:
        raise FitError(f"var clv_monthly_discount_rate must be in [0, 1), got "
                       f"{monthly_discount_rate!r}")
    unit = days_per_unit(time_unit)
    x, t_x, T, m = _in_units(histories, time_unit)
    # Customers with the same (x, t_x, T) get the same BG/NBD predictions: compute
    # them once per distinct history (2F1 is the costly part).
    first, inverse = _distinct_histories(histories)
    ux, ut_x, uT = x[first], t_x[first], T[first]

    def expected(days: float) -> np.ndarray:
        return bgnbd.conditional_expected_purchases(bg_params, days / unit, ux, ut_x, uT)

    cumulative = np.vstack([np.zeros_like(ux)]
                           + [expected(k * CLV_MONTH_DAYS) for k in range(1, CLV_MONTHS + 1)])
    discount = (1.0 + monthly_discount_rate) ** -np.arange(1, CLV_MONTHS + 1)
    discounted_purchases = discount @ np.diff(cumulative, axis=0)
    aov = gamma_gamma.expected_average_value(gg_params, x, m)
    purchases_365 = cumulative[-1][inverse]
    result = pd.DataFrame({
        "p_alive": bgnbd.probability_alive(bg_params, ux, ut_x, uT)[inverse],
        "expected_purchases_90d": expected(90.0)[inverse],
        "expected_purchases_365d": purchases_365,
        "expected_average_order_value": aov,
        "expected_revenue_12m": purchases_365 * aov,
        "predicted_clv_12m": discounted_purchases[inverse] * aov,
    }, index=histories.index)
    if is_closed is not None:
        closed = np.asarray(is_closed, dtype=bool)
        for column in PREDICTION_COLUMNS:
            if column != "expected_average_order_value":
                result.loc[closed, column] = 0.0
    bad = ~np.isfinite(result.to_numpy()).all(axis=1)
    if bad.any():
        raise FitError(f"predictions are not finite for {int(bad.sum()):,} customers "
                       "(check the fitted parameters in fct_customer_value_model)")
    return result
