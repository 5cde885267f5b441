"""Expected churn reasons: the lost customers of each period by exit-survey reason.

Each customer lost in P is attributed the category of their latest exit-survey
response dated on or after their last purchase (as of the period end) and on or
before the as-of date; no such response, or no reason given, is ``no_answer``.
"""

from __future__ import annotations

import pandas as pd

from retention_warehouse.quality.expected_customers import CustomerBase
from retention_warehouse.quality.expected_periods import States, pct

REASON_CATEGORIES = ("price", "product", "better_supplier", "service_attitude", "no_reason",
                     "other", "no_answer")


def expected_churn_reasons(base: CustomerBase, states: States, long_flags: pd.DataFrame,
                           kpis: pd.DataFrame, responses: pd.DataFrame) -> pd.DataFrame:
    """One row per period x reason category (the six categories and no_answer)."""
    exits = responses[~responses["is_test_account"] & (responses["survey_type"] == "exit")
                      & (responses["response_date"] <= base.params.as_of)]
    exits = exits.sort_values(["customer_id", "responded_at", "response_id"])
    lost = long_flags[long_flags["is_lost"]][["period_start", "customer_id"]]
    period_ends = kpis.drop_duplicates("period_start").set_index("period_start")["effective_end"]
    lost = lost.assign(last_purchase=[
        states.last_at(period_ends[period_start])[customer_id]
        for period_start, customer_id in lost.itertuples(index=False)
    ])
    answers = lost.merge(exits[["customer_id", "response_date", "exit_reason_category"]],
                         on="customer_id")
    answers = answers[answers["response_date"] >= answers["last_purchase"]]
    latest = answers.groupby(["period_start", "customer_id"]).tail(1)  # exits are sorted
    category = latest.set_index(["period_start", "customer_id"])["exit_reason_category"]
    keys = pd.MultiIndex.from_frame(lost[["period_start", "customer_id"]])
    lost = lost.assign(reason_category=category.reindex(keys).fillna("no_answer").to_numpy())
    counts = lost.groupby(["period_start", "reason_category"]).size()
    grid = pd.MultiIndex.from_product([period_ends.index, REASON_CATEGORIES],
                                      names=["period_start", "reason_category"])
    frame = counts.reindex(grid, fill_value=0).rename("customers_in_category").reset_index()
    churned = lost.groupby("period_start").size().reindex(period_ends.index, fill_value=0)
    frame["churned_customers"] = frame["period_start"].map(churned).astype("int64")
    frame["share_of_churned_pct"] = pct(frame["customers_in_category"], frame["churned_customers"])
    return frame
