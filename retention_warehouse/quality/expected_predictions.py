"""Expected purchase histories, RFM scores and segments, and the per-customer predictions.

Histories and RFM come from staging alone (docs/metric_decisions.md,
"Predictions"): a transaction is a purchase day; frequency = purchase days after
the first, recency = last - first purchase day, age = as-of - first purchase day,
monetary = mean net revenue of the repeat purchase days; each score is
1 + floor(5 x customers strictly worse / customers); the segment is the first
rule of the rfm_segments seed holding the three scores.

The model estimates are run parameters here, like the as-of date: the fitted
parameters are read from ``marts.fct_customer_value_model`` (the tests validate
them against the published CDNOW results and the ``lifetimes`` package), and
P(alive) and the expected order value are recomputed from them and the expected
histories, so every build checks that each customer got the prediction of their
own history, in the right time unit.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from retention_warehouse.quality.expected_customers import CustomerBase

SCORES = ("recency", "frequency", "monetary")


def _scores(goodness: pd.Series) -> pd.Series:
    """1 + floor(5 x (customers strictly worse) / n); higher goodness is better."""
    worse = goodness.rank(method="min").astype("int64") - 1
    return 1 + (5 * worse) // len(goodness)


def expected_histories(base: CustomerBase, rules: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: history, is_closed, RFM scores and segment."""
    as_of = base.params.as_of
    purchases = base.purchases
    days = purchases.groupby(["customer_id", "order_date"])["net_revenue"].agg(
        lambda amounts: sum(amounts, Decimal(0))).reset_index()
    days = days.sort_values(["customer_id", "order_date"])
    days["is_repeat"] = days.groupby("customer_id").cumcount() > 0
    grouped = days.groupby("customer_id")
    frame = pd.DataFrame({"first_purchase_date": grouped["order_date"].min(),
                          "last_purchase_date": grouped["order_date"].max(),
                          "frequency": grouped["is_repeat"].sum().astype("int64")})
    repeat_revenue = days[days["is_repeat"]].groupby("customer_id")["net_revenue"].agg(
        lambda amounts: sum(amounts, Decimal(0)))
    frame["monetary_value"] = [
        float(repeat_revenue[customer]) / count if count else np.nan
        for customer, count in frame["frequency"].items()]
    frame["recency_days"] = (frame["last_purchase_date"]
                             - frame["first_purchase_date"]).dt.days.astype("int64")
    frame["age_days"] = (as_of - frame["first_purchase_date"]).dt.days.astype("int64")
    frame["days_since_last_purchase"] = (as_of - frame["last_purchase_date"]).dt.days.astype(
        "int64")
    people = base.customers
    frame = frame.loc[frame.index.intersection(people.index)]
    frame["customer_key"] = people["customer_key"].reindex(frame.index)
    frame["is_closed"] = people["closed_date"].reindex(frame.index).notna()
    frame["recency_score"] = _scores(-frame["days_since_last_purchase"])
    frame["frequency_score"] = _scores(frame["frequency"])
    frame["monetary_score"] = _scores(frame["monetary_value"].fillna(-np.inf))
    frame["rfm_segment"] = [_segment(rules, *scores) for scores in zip(
        *(frame[f"{name}_score"] for name in SCORES), strict=True)]
    return frame.reset_index()


def _segment(rules: pd.DataFrame, recency: int, frequency: int, monetary: int) -> str | None:
    for rule in rules.sort_values("rule_order").itertuples():
        if (rule.min_recency_score <= recency <= rule.max_recency_score
                and rule.min_frequency_score <= frequency <= rule.max_frequency_score
                and rule.min_monetary_score <= monetary <= rule.max_monetary_score):
            return rule.segment_name
    return None


def expected_predictions(histories: pd.DataFrame, value_model: pd.DataFrame) -> pd.DataFrame:
    """The histories with P(alive) and the expected order value from the fitted parameters.

    P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)), with
    a / (b + x - 1) = mean_p / (1 - mean_p) at the homogeneous drop-out limit (a, b NULL);
    0 for a closed account. E[M] = p (v + x m_x) / (p x + q - 1). Times in the fit's unit.
    Without fitted parameters (an emptied or partial warehouse) both are NaN: the
    comparisons then report the missing rows instead of the checkpoint crashing.
    """
    if value_model.empty:
        return histories.assign(p_alive=np.nan, expected_average_order_value=np.nan)
    params = dict(zip(value_model["parameter_key"], value_model["parameter_value"],
                      strict=True))
    unit = float(value_model["days_per_unit"].iloc[0])
    r, alpha, a, b = (params[f"bg_nbd.{name}"] for name in ("r", "alpha", "a", "b"))
    p, q, v = (params[f"gamma_gamma.{name}"] for name in ("p", "q", "v"))
    x = histories["frequency"].to_numpy(float)
    t_x = histories["recency_days"].to_numpy(float) / unit
    T = histories["age_days"].to_numpy(float) / unit
    if pd.isna(a) and pd.isna(b):
        mean_p = params["bg_nbd.mean_p"]
        dropout_odds = np.full(len(x), mean_p / (1 - mean_p))
    else:
        dropout_odds = a / np.where(x > 0, b + x - 1, 1.0)
    odds = np.where(x > 0, dropout_odds * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    closed = histories["is_closed"].to_numpy(bool)
    m = np.nan_to_num(histories["monetary_value"].to_numpy(float))
    return histories.assign(p_alive=np.where(closed, 0.0, 1.0 / (1.0 + odds)),
                            expected_average_order_value=p * (v + x * m) / (p * x + q - 1))
