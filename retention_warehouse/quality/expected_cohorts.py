"""Expected cohort retention triangles (docs/metrics.md "Cohort retention").

active_customers(k) = cohort customers with a purchase in period cohort + k;
unbounded(k) = cohort customers whose last purchase is in a period >= cohort + k;
revenue_retention_pct(k) = cohort net revenue in period k / in period 0 x 100.
"""

from __future__ import annotations

import pandas as pd

from retention_warehouse.quality.calendar import period_number, period_start_of
from retention_warehouse.quality.expected_customers import CustomerBase
from retention_warehouse.quality.expected_periods import pct
from retention_warehouse.quality.expected_tiers import to_cents


def cohort_triangle(base: CustomerBase, cohort_date: pd.Series, cohort_type: str,
                    group: pd.Series | None = None) -> pd.DataFrame:
    """One row per cohort (x group) x period number k from 0 to the as-of period."""
    params = base.params
    customers = base.customers
    members = pd.DataFrame({
        "cohort": period_number(cohort_date, params),
        "group": "all" if group is None else group,
        "last_period": period_number(customers["last_purchase_date"], params),
    }, index=customers.index)
    purchases = base.purchases
    bought = pd.DataFrame({
        "customer_id": purchases["customer_id"].to_numpy(),
        "period": period_number(purchases["order_date"], params).to_numpy(),
        "cents": to_cents(purchases["net_revenue"]).to_numpy(),
    }).join(members[["cohort", "group"]], on="customer_id")
    bought["k"] = bought["period"] - bought["cohort"]
    as_of_period = int(period_number(pd.Series([params.as_of]), params).iloc[0])

    sizes = members.groupby(["cohort", "group"]).size().rename("cohort_size").reset_index()
    grid = sizes.loc[sizes.index.repeat(as_of_period - sizes["cohort"] + 1)].copy()
    grid["period_number"] = grid.groupby(["cohort", "group"]).cumcount()
    # unbounded(k) = members whose last purchase is k or more periods after the cohort's
    last_k = (members["last_period"] - members["cohort"]).rename("period_number")
    ending = members.groupby(["cohort", "group", last_k]).size().rename("ending")
    grid = grid.join(ending, on=["cohort", "group", "period_number"])
    grid["ending"] = grid["ending"].fillna(0).astype("int64")
    grid = grid.sort_values(["cohort", "group", "period_number"], ascending=[True, True, False])
    grid["unbounded_retained_customers"] = grid.groupby(["cohort", "group"])["ending"].cumsum()
    grid = grid.sort_values(["cohort", "group", "period_number"]).drop(columns="ending")
    activity = bought[bought["k"] >= 0].groupby(["cohort", "group", "k"]).agg(
        active_customers=("customer_id", "nunique"), net_revenue_cents=("cents", "sum"),
    ).rename_axis(["cohort", "group", "period_number"])
    grid = grid.join(activity, on=["cohort", "group", "period_number"])
    grid[["active_customers", "net_revenue_cents"]] = (
        grid[["active_customers", "net_revenue_cents"]].fillna(0).astype("int64")
    )
    first_revenue = grid[grid["period_number"] == 0].set_index(["cohort", "group"])
    first_revenue = first_revenue["net_revenue_cents"]
    grid["period0_cents"] = pd.MultiIndex.from_frame(grid[["cohort", "group"]]).map(first_revenue)
    grid["retention_pct"] = pct(grid["active_customers"], grid["cohort_size"])
    grid["unbounded_retention_pct"] = pct(grid["unbounded_retained_customers"], grid["cohort_size"])
    grid["revenue_retention_pct"] = pct(grid["net_revenue_cents"], grid["period0_cents"])
    grid["net_revenue"] = grid["net_revenue_cents"] / 100
    starts = {number: period_start_of(number, params) for number in grid["cohort"].unique()}
    grid["cohort_period_start"] = grid["cohort"].map(starts)
    grid["cohort_type"] = cohort_type
    grid["acquisition_channel"] = grid["group"]
    return grid.drop(columns=["cohort", "group", "period0_cents"])


def expected_cohorts(base: CustomerBase) -> pd.DataFrame:
    """The acquisition, signup and acquisition x channel cohort triangles."""
    customers = base.customers
    return pd.concat([
        cohort_triangle(base, customers["first_purchase_date"], "acquisition"),
        cohort_triangle(base, customers["signup_date"], "signup"),
        cohort_triangle(base, customers["first_purchase_date"], "acquisition_channel",
                        customers["acquisition_channel"]),
    ], ignore_index=True)
