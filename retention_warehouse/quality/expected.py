"""Compute every expected frame the marts are compared with, from staging alone."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pandas as pd

from retention_warehouse.quality.expected_churn import expected_churn_reasons
from retention_warehouse.quality.expected_cohorts import expected_cohorts
from retention_warehouse.quality.expected_customers import customer_base
from retention_warehouse.quality.expected_periods import States, expected_kpis
from retention_warehouse.quality.expected_predictions import (
    expected_histories,
    expected_predictions,
)
from retention_warehouse.quality.expected_tiers import expected_tiers
from retention_warehouse.quality.expected_value import (
    expected_current_view,
    expected_lifetime_values,
    expected_value_segments,
)
from retention_warehouse.quality.inputs import WarehouseFrames


@dataclass
class ExpectedFrames:
    """Expected values per mart (keyed by mart name) and the last loaded date."""

    by_mart: dict[str, pd.DataFrame]
    last_loaded_date: pd.Timestamp


def last_loaded_date(inputs: dict[str, pd.DataFrame]) -> pd.Timestamp:
    """The latest date of any clean transaction (sale or refund): the default as-of date."""
    return max(inputs["orders"]["order_date"].max(), inputs["refunds"]["refund_date"].max())


def compute_expected(frames: WarehouseFrames) -> ExpectedFrames:
    """Recompute the marts' metrics from the staging inputs (docs/metrics.md formulas)."""
    inputs = frames.inputs
    base = customer_base(inputs, frames.params)
    states = States(base)
    tiers = expected_tiers(base, inputs["tiers"])
    tiers = tiers.assign(trailing_12m_net_revenue=tiers["trailing_cents"] / 100,
                         net_revenue_in_month=tiers["net_revenue_in_month_cents"] / 100,
                         spend_to_next_tier=tiers["spend_to_next_tier_cents"].map(
                             lambda cents: None if pd.isna(cents) else cents / 100))
    kpis, long_flags = expected_kpis(base, states, tiers, inputs["responses"])
    lifetime = expected_lifetime_values(base, inputs["spend"])
    booked = zip(base.orders["net_revenue"], base.orders["is_purchase"], strict=True)
    orders = base.orders.assign(  # revenue is booked for purchases only
        net_revenue=[revenue if purchase else Decimal(0) for revenue, purchase in booked])
    predictions = expected_predictions(expected_histories(base, inputs["rfm_rules"]),
                                       frames.marts["fct_customer_value_model"])
    current = expected_current_view(base, tiers, states, long_flags)
    by_key = predictions.set_index("customer_key")
    current["rfm_segment"] = current["customer_key"].map(by_key["rfm_segment"])
    current["p_alive"] = current["customer_key"].map(by_key["p_alive"])
    return ExpectedFrames(
        by_mart={
            "fct_orders": orders,
            "dim_customers": current,
            "fct_customer_predictions": predictions,
            "fct_retention_kpis": kpis,
            "fct_cohort_retention": expected_cohorts(base),
            "fct_churn_reasons": expected_churn_reasons(base, states, long_flags, kpis,
                                                        inputs["responses"]),
            "fct_customer_lifetime_value": lifetime,
            "fct_customer_tiers": tiers,
            "fct_lifetime_value_segments": expected_value_segments(base, lifetime, states),
        },
        last_loaded_date=last_loaded_date(inputs),
    )
