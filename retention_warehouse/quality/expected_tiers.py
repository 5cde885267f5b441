"""Expected loyalty tiers per customer and month (trailing 12-month net spend).

Money is handled in integer cents so sums are exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from retention_warehouse.quality.calendar import month_number, month_start_of
from retention_warehouse.quality.expected_customers import CustomerBase


def to_cents(amounts: pd.Series) -> pd.Series:
    """Decimal amounts as integer cents."""
    return amounts.map(lambda amount: int(amount * 100)).astype("int64")


def expected_tiers(base: CustomerBase, tiers: pd.DataFrame) -> pd.DataFrame:
    """One row per customer x month from the acquisition month to the as-of month."""
    purchases = base.purchases.assign(
        month=month_number(base.purchases["order_date"]),
        cents=to_cents(base.purchases["net_revenue"]),
    )
    customers = base.customers
    first_month = int(month_number(customers["first_purchase_date"]).min())
    last_month = int(month_number(pd.Series([base.params.as_of])).iloc[0])
    months = np.arange(first_month, last_month + 1)
    grid = purchases.pivot_table(index="customer_id", columns="month", values="cents",
                                 aggfunc="sum", fill_value=0)
    grid = grid.reindex(index=customers.index, columns=months, fill_value=0)
    counts = purchases.pivot_table(index="customer_id", columns="month", values="order_id",
                                   aggfunc="count", fill_value=0)
    counts = counts.reindex(index=customers.index, columns=months, fill_value=0)
    trailing = grid.T.rolling(12, min_periods=1).sum().T.astype("int64")

    frame = trailing.stack().rename("trailing_cents").to_frame()
    frame["net_revenue_in_month_cents"] = grid.stack()
    frame["purchases_in_month"] = counts.stack()
    frame = frame.reset_index().rename(columns={"level_1": "month"})
    frame.columns = ["customer_id", "month", *frame.columns[2:]]
    acquisition_month = month_number(customers["first_purchase_date"])
    frame = frame[frame["month"] >= frame["customer_id"].map(acquisition_month)].copy()

    bounds = tiers.sort_values("tier_rank")
    bound_cents = [int(bound * 100) for bound in bounds["min_trailing_12m_spend"]]
    names = list(bounds["tier_name"])
    position = np.searchsorted(bound_cents, frame["trailing_cents"].to_numpy(), side="right") - 1
    frame["tier_name"] = np.asarray(names, dtype=object)[position]
    frame["tier_rank"] = bounds["tier_rank"].to_numpy()[position]
    next_bound = np.asarray([*bound_cents[1:], 0], dtype="int64")[position]
    is_top = position == len(names) - 1
    frame["spend_to_next_tier_cents"] = pd.Series(
        next_bound - frame["trailing_cents"].to_numpy(), index=frame.index
    ).where(~is_top)
    frame = frame.sort_values(["customer_id", "month"])
    previous_rank = frame.groupby("customer_id")["tier_rank"].shift(1)
    frame["previous_tier_name"] = frame.groupby("customer_id")["tier_name"].shift(1)
    frame["tier_change"] = np.select(
        [previous_rank.isna(), frame["tier_rank"] > previous_rank,
         frame["tier_rank"] < previous_rank],
        ["new", "upgrade", "downgrade"],
        default="same",
    )
    starts = {month: month_start_of(int(month)) for month in months}
    frame["month_start"] = frame["month"].map(starts)
    frame["customer_key"] = frame["customer_id"].map(customers["customer_key"])
    return frame.reset_index(drop=True)
