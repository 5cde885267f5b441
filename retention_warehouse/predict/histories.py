"""Customer purchase histories (frequency, recency, age, monetary value) from purchase rows.

The warehouse computes the same summary in SQL (``int_customers_rfm_scored``);
this is the Python version for data outside the warehouse (the CDNOW logs) and
for the holdout check, which needs the summary at an earlier cut-off date. A
test proves both give the same values on the sample.

Rules (docs/metric_decisions.md, "Predictions"): a transaction is a purchase
day (a customer's purchases on one date count once, at their summed value);
``frequency`` = purchase days after the first; ``recency_days`` = last - first
purchase day; ``age_days`` = cut-off - first purchase day;
``monetary_value`` = mean value of the repeat purchase days (NaN without one).
"""

from __future__ import annotations

import pandas as pd

HISTORY_COLUMNS = ("frequency", "recency_days", "age_days", "days_since_last_purchase",
                   "monetary_value")


def summarise(purchases: pd.DataFrame, cutoff: pd.Timestamp, customer: str = "customer",
              date: str = "date", value: str = "value") -> pd.DataFrame:
    """One row per customer with a purchase on or before ``cutoff``, indexed by customer.

    ``purchases`` has one row per purchase: the customer, its date (anything
    ``pd.to_datetime`` reads; the time of day is dropped) and its value.
    """
    frame = purchases[[customer, date, value]].copy()
    frame[date] = pd.to_datetime(frame[date]).dt.normalize()
    frame[value] = frame[value].astype(float)
    cutoff = pd.Timestamp(cutoff).normalize()
    frame = frame[frame[date] <= cutoff]
    days = frame.groupby([customer, date], sort=True)[value].sum().reset_index()
    first = days.groupby(customer)[date].transform("min")
    days["is_repeat"] = days[date] > first
    grouped = days.groupby(customer, sort=True)
    result = pd.DataFrame({
        "first_purchase_date": grouped[date].min(),
        "last_purchase_date": grouped[date].max(),
        "frequency": grouped["is_repeat"].sum().astype("int64"),
    })
    repeat_value = days[days["is_repeat"]].groupby(customer)[value].sum()
    result["recency_days"] = (result["last_purchase_date"]
                              - result["first_purchase_date"]).dt.days.astype("int64")
    result["age_days"] = (cutoff - result["first_purchase_date"]).dt.days.astype("int64")
    result["days_since_last_purchase"] = (cutoff - result["last_purchase_date"]).dt.days.astype(
        "int64")
    result["monetary_value"] = repeat_value.reindex(result.index) / result["frequency"].where(
        result["frequency"] > 0)
    return result


def repeat_purchase_days(purchases: pd.DataFrame, after: pd.Timestamp, through: pd.Timestamp,
                         customer: str = "customer", date: str = "date") -> pd.Series:
    """Purchase days per customer in (after, through]: the holdout's actual transactions."""
    dates = pd.to_datetime(purchases[date]).dt.normalize()
    window = purchases.loc[(dates > pd.Timestamp(after)) & (dates <= pd.Timestamp(through)),
                           [customer]].assign(day=dates)
    return window.drop_duplicates().groupby(customer).size()
