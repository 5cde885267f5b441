"""fct_customer_predictions: purchase histories, RFM scores and segment, and the two
per-customer formulas of the fitted value models.

Histories and RFM (docs/metric_decisions.md, "Predictions"): a transaction is a
purchase day (a customer's purchases on one UTC date count once, at their summed net
revenue); frequency = purchase days after the first, recency = last - first purchase
day, age = as-of - first purchase day, monetary = mean net revenue of the repeat
purchase days (None without one); each score is 1 + floor(5 x customers strictly worse
/ customers); the segment is the first rule of the rfm_segments seed holding the three
scores.

The model fits are not recomputed here: the fitted parameters
(``marts.fct_customer_value_model``) are a run parameter, validated by
tests/python/test_value_models.py against the published CDNOW results and the
``lifetimes`` package. Given them, :func:`apply_value_model` recomputes P(alive) and the
expected average order value of each customer from their own history, so the
checkpoint proves every customer got the prediction of their history, in the fit's
time unit. Without them (no fit, e.g. on PostgreSQL where the Python models are
disabled) both are None, as in the marts.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from retention_warehouse.oracle.states import Model

COLUMNS = [
    "customer_id", "as_of_date", "first_purchase_date", "last_purchase_date", "frequency",
    "recency_days", "age_days", "days_since_last_purchase", "monetary_value", "is_closed",
    "recency_score", "frequency_score", "monetary_score", "rfm_segment",
]
FORMULA_COLUMNS = ("p_alive", "expected_average_order_value")


def rfm_scores(goodness: list[Any]) -> list[int]:
    """1 + floor(5 x (customers strictly worse) / n) per customer; higher goodness is better."""
    ordered = sorted(goodness)
    n = len(goodness)
    return [1 + (5 * bisect.bisect_left(ordered, value)) // n for value in goodness]


def rfm_segment(rules: tuple[tuple[int, str, int, int, int, int, int, int], ...],
                recency: int, frequency: int, monetary: int) -> str | None:
    """The first rule (by rule_order) whose three score ranges hold the scores."""
    return next((segment for _, segment, r_lo, r_hi, f_lo, f_hi, m_lo, m_hi in sorted(rules)
                 if r_lo <= recency <= r_hi and f_lo <= frequency <= f_hi
                 and m_lo <= monetary <= m_hi), None)


def compute_histories(model: Model) -> pd.DataFrame:
    """One row per customer with a purchase: history, is_closed, RFM scores and segment."""
    rows = []
    for cid, customer in model.customers.items():
        day_revenue: dict[date, Decimal] = defaultdict(Decimal)
        for purchase in customer.purchases:
            day_revenue[purchase.on] += purchase.net_revenue
        if not day_revenue:
            continue
        days = sorted(day_revenue)
        frequency = len(days) - 1
        repeat_revenue = sum((day_revenue[d] for d in days[1:]), Decimal(0))
        rows.append({
            "customer_id": cid,
            "as_of_date": model.as_of,
            "first_purchase_date": days[0],
            "last_purchase_date": days[-1],
            "frequency": frequency,
            "recency_days": (days[-1] - days[0]).days,
            "age_days": (model.as_of - days[0]).days,
            "days_since_last_purchase": (model.as_of - days[-1]).days,
            "monetary_value": float(repeat_revenue) / frequency if frequency else None,
            "is_closed": customer.closure_date is not None,
        })
    recency = rfm_scores([-row["days_since_last_purchase"] for row in rows])
    frequency = rfm_scores([row["frequency"] for row in rows])
    # No repeat purchase ranks below every monetary value.
    monetary = rfm_scores([(0, 0.0) if row["monetary_value"] is None
                           else (1, row["monetary_value"]) for row in rows])
    for row, r, f, m in zip(rows, recency, frequency, monetary, strict=True):
        row["recency_score"], row["frequency_score"], row["monetary_score"] = r, f, m
        row["rfm_segment"] = rfm_segment(model.seeds.rfm_rules, r, f, m)
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype=object)
    return frame.sort_values("customer_id").reset_index(drop=True)


def _p_alive(params: dict[str, float], x: int, t_x: float, age: float, closed: bool) -> float:
    """BG/NBD P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)),
    with a / (b + x - 1) = mean_p / (1 - mean_p) at the homogeneous drop-out limit (a, b
    NULL); 0 for a closed account."""
    if closed:
        return 0.0
    if x == 0:
        return 1.0
    a, b = params["bg_nbd.a"], params["bg_nbd.b"]
    if pd.isna(a) and pd.isna(b):
        mean_p = params["bg_nbd.mean_p"]
        dropout_odds = mean_p / (1 - mean_p)
    else:
        dropout_odds = a / (b + x - 1)
    r, alpha = params["bg_nbd.r"], params["bg_nbd.alpha"]
    return 1.0 / (1.0 + dropout_odds * ((alpha + age) / (alpha + t_x)) ** (r + x))


def _expected_order_value(params: dict[str, float], x: int, monetary: float | None) -> float:
    """Gamma-Gamma E[M] = p (v + x m_x) / (p x + q - 1)."""
    p, q, v = (params[f"gamma_gamma.{name}"] for name in ("p", "q", "v"))
    m = monetary or 0.0
    return p * (v + x * m) / (p * x + q - 1)


def apply_value_model(histories: pd.DataFrame, value_model: pd.DataFrame | None) -> pd.DataFrame:
    """The histories with P(alive) and the expected order value from the fitted parameters.

    ``value_model`` is fct_customer_value_model (parameter_key, parameter_value,
    days_per_unit); times are converted to the fit's unit. Without parameters (None or
    empty) both columns are None.
    """
    if value_model is None or value_model.empty:
        return histories.assign(p_alive=None, expected_average_order_value=None)
    params = {key: float("nan") if pd.isna(value) else float(value) for key, value in
              zip(value_model["parameter_key"], value_model["parameter_value"], strict=True)}
    unit = float(value_model["days_per_unit"].iloc[0])
    alive, order_value = [], []
    for row in histories.itertuples():
        alive.append(_p_alive(params, int(row.frequency), row.recency_days / unit,
                              row.age_days / unit, bool(row.is_closed)))
        order_value.append(_expected_order_value(params, int(row.frequency), row.monetary_value))
    return histories.assign(p_alive=alive, expected_average_order_value=order_value)


def compute_customer_predictions(model: Model,
                                 value_model: pd.DataFrame | None = None) -> pd.DataFrame:
    """fct_customer_predictions: histories, RFM, and (with fitted parameters) P(alive) and
    the expected average order value."""
    return apply_value_model(compute_histories(model), value_model)
