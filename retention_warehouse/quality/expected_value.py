"""Expected customer lifetime value, CAC, value segments and the current customer view.

CAC = marketing spend of a channel in a month / customers acquired through it
that month (NULL when the channel has no spend that month); historical CLTV =
net revenue - CAC; predicted CLTV = AOV x frequency x 1 / annual churn - CAC.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd

from retention_warehouse.quality.calendar import (
    month_number,
    month_start_of,
    period_number,
    period_start_of,
    periods,
)
from retention_warehouse.quality.expected_customers import CustomerBase
from retention_warehouse.quality.expected_periods import States, pct, ratio

DAYS_PER_YEAR = 365.25
VALUE_SEGMENTS = ("acquisition_cohort", "acquisition_channel", "region", "total")


def acquisition_costs(base: CustomerBase, spend: pd.DataFrame) -> pd.Series:
    """CAC per customer id (NaN when the channel had no spend in the acquisition month)."""
    customers = base.customers
    month = customers["first_purchase_date"].dt.to_period("M").dt.start_time
    acquired = customers.groupby([customers["acquisition_channel"], month]).size()
    spent = spend.groupby(["acquisition_channel", "spend_month"])["spend_amount_reporting"].agg(
        lambda amounts: sum(amounts, Decimal(0))
    )
    spent.index = spent.index.set_levels(pd.to_datetime(spent.index.levels[1]), level=1)
    keys = pd.MultiIndex.from_arrays([customers["acquisition_channel"], month])
    spend_of_customer = pd.Series(spent.reindex(keys).to_numpy(), index=customers.index)
    count_of_customer = pd.Series(acquired.reindex(keys).to_numpy(), index=customers.index)
    return pd.Series(
        [float(amount) / count if isinstance(amount, Decimal) else math.nan
         for amount, count in zip(spend_of_customer, count_of_customer, strict=True)],
        index=customers.index, dtype="float64",
    )


def expected_lifetime_values(base: CustomerBase, spend: pd.DataFrame) -> pd.DataFrame:
    """One row per customer: orders, revenue, lifespan, AOV, tenure, frequency, CAC, CLTV."""
    customers = base.customers
    as_of = base.params.as_of
    frame = customers[["customer_key", "region", "acquisition_channel", "orders",
                       "first_purchase_date", "last_purchase_date"]].copy()
    frame["net_revenue"] = customers["net_revenue"].map(float)
    frame["acquisition_date"] = customers["first_purchase_date"]
    cohorts = period_number(customers["first_purchase_date"], base.params)
    frame["acquisition_cohort"] = cohorts.map(
        {number: period_start_of(number, base.params) for number in cohorts.unique()})
    lifespan = frame["last_purchase_date"] - frame["first_purchase_date"]
    frame["lifespan_days"] = lifespan.dt.days + 1
    frame["average_order_value"] = frame["net_revenue"] / frame["orders"]
    frame["tenure_days"] = (as_of - frame["acquisition_date"]).dt.days + 1
    frame["purchases_per_year"] = frame["orders"] * DAYS_PER_YEAR / frame["tenure_days"]
    frame["cac"] = acquisition_costs(base, spend)
    frame["historical_cltv"] = frame["net_revenue"] - frame["cac"]
    return frame


def annual_churn_window(base: CustomerBase) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """(s, e): the end of the period 12 months before the last complete period, and its end."""
    calendar = periods(base.customers["first_purchase_date"].min(), base.params)
    complete = calendar[calendar["is_complete_period"]]
    if complete.empty:
        return None
    end = complete["period_end"].iloc[-1]
    last_month = int(month_number(pd.Series([end])).iloc[0])
    start = month_start_of(last_month - 11) - pd.Timedelta(days=1)
    return start, end


def pareto_share(revenue: pd.Series, share: float) -> float:
    """Share (%) of the revenue from the top ceil(share x n) customers by revenue."""
    ranked = revenue.sort_values(ascending=False)
    top = math.ceil(share * len(ranked) - 1e-9)
    total = ranked.sum()
    return 100.0 * ranked.iloc[:top].sum() / total if total > 0 else math.nan


def expected_value_segments(base: CustomerBase, lifetime: pd.DataFrame,
                            states: States) -> pd.DataFrame:
    """Per value segment: sums, AOV, frequency, annual churn, lifespan, CAC, predicted CLTV."""
    window = annual_churn_window(base)
    if window is not None:
        active_start, active_end = states.active_at(window[0]), states.active_at(window[1])
    else:
        active_start = active_end = pd.Series(False, index=lifetime.index)
    frame = lifetime.assign(
        total="all",
        acquisition_cohort=lifetime["acquisition_cohort"].dt.strftime("%Y-%m-%d"),
        tenure_years=lifetime["tenure_days"] / DAYS_PER_YEAR,
        at_start=active_start.reindex(lifetime.index),
        lost=(active_start & ~active_end).reindex(lifetime.index),
    )
    rows = []
    for segment_type in VALUE_SEGMENTS:
        for value, members in frame.groupby(segment_type):
            rows.append({
                "segment_type": segment_type,
                "segment_value": value,
                "customers": len(members),
                "purchases": int(members["orders"].sum()),
                "net_revenue": float(members["net_revenue"].sum()),
                "tenure_years": members["tenure_years"].sum(),
                "at_start": int(members["at_start"].sum()),
                "lost": int(members["lost"].sum()),
                "average_cac": members["cac"].mean(),
                "top_10pct_revenue_share": pareto_share(members["net_revenue"], 0.10),
                "top_20pct_revenue_share": pareto_share(members["net_revenue"], 0.20),
            })
    segments = pd.DataFrame(rows)
    segments["average_order_value"] = ratio(segments["net_revenue"], segments["purchases"])
    segments["purchase_frequency_per_year"] = segments["purchases"] / segments["tenure_years"]
    segments["annual_churn_rate"] = pct(segments["lost"], segments["at_start"])
    churn = segments["annual_churn_rate"]
    segments["expected_lifespan_years"] = (100.0 / churn).where(churn > 0)
    segments["predicted_cltv"] = (
        segments["average_order_value"] * segments["purchase_frequency_per_year"]
        * segments["expected_lifespan_years"] - segments["average_cac"]
    )
    return segments


def expected_current_view(base: CustomerBase, tiers: pd.DataFrame, states: States,
                          long_flags: pd.DataFrame) -> pd.DataFrame:
    """dim_customers' derived columns: status, tier, lifecycle segment, days since last purchase."""
    people = base.people.copy()
    as_of = base.params.as_of
    as_of_month = int(month_number(pd.Series([as_of])).iloc[0])
    current = tiers[tiers["month"] == as_of_month].set_index("customer_id")
    people["current_tier"] = current["tier_name"].reindex(people.index)
    people["trailing_12m_net_revenue"] = (current["trailing_cents"] / 100).reindex(people.index)
    people["days_since_last_purchase"] = (as_of - people["last_purchase_date"]).dt.days
    people["lifecycle_segment"] = np.select(
        [people["is_lead"], people["current_tier"] == "vip", people["orders"] == 1],
        ["lead", "vip", "one_time"], default="repeat",
    )
    last_period = long_flags[long_flags["period_start"] == long_flags["period_start"].max()]
    reactivated = last_period.set_index("customer_id")["is_reactivated"]
    active = states.active_at(as_of).reindex(people.index).fillna(False).astype(bool)
    people["current_status"] = np.select(
        [
            people["is_lead"],
            people["closed_date"] <= as_of,
            ~active,
            reactivated.reindex(people.index).fillna(False).astype(bool),
            people["days_since_last_purchase"] > base.params.at_risk_days,
        ],
        ["lead", "closed", "churned", "reactivated", "at_risk"],
        default="active",
    )
    people["net_revenue"] = people["net_revenue"].map(lambda amount: float(amount)
                                                      if isinstance(amount, Decimal) else 0.0)
    return people.reset_index()
