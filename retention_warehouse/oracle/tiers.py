"""fct_customer_tiers: loyalty tier per customer and calendar month.

Trailing 12-month spend at a month end = net revenue of the purchases in that month
and the 11 before it (for the as-of month: up to the as-of date). Tier = the highest
``loyalty_tiers`` tier whose ``min_trailing_12m_spend`` <= that spend (bounds
inclusive). Rows run from the acquisition month to the as-of month, whatever the
reporting grain.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pandas as pd

from retention_warehouse.oracle.calendar import month_end, month_index, month_start
from retention_warehouse.oracle.states import Model

TIER_COLUMNS = [
    "customer_id", "month_start", "month_end", "effective_end", "is_complete_month",
    "purchases_in_month", "net_revenue_in_month", "trailing_12m_net_revenue", "tier_name",
    "tier_rank", "spend_to_next_tier", "previous_tier_name", "tier_change",
]


def _change(rank: int, previous: tuple[str, int] | None) -> str:
    if previous is None:
        return "new"
    if rank > previous[1]:
        return "upgrade"
    return "downgrade" if rank < previous[1] else "same"


def compute_tiers(model: Model) -> dict[tuple[str, int], dict[str, Any]]:
    """Customer x month rows (keyed by customer id and month index)."""
    tiers = model.seeds.tiers
    as_of_month = month_index(model.as_of)
    result: dict[tuple[str, int], dict[str, Any]] = {}
    for cid, cust in model.customers.items():
        revenue: dict[int, Decimal] = defaultdict(Decimal)
        purchases: dict[int, int] = defaultdict(int)
        for p in cust.purchases:
            revenue[month_index(p.on)] += p.net_revenue
            purchases[month_index(p.on)] += 1
        previous: tuple[str, int] | None = None
        for month in range(month_index(cust.acquisition_date), as_of_month + 1):
            trailing = sum((revenue[j] for j in range(month - 11, month + 1)), Decimal(0))
            level = max(i for i, (_, _, bound) in enumerate(tiers) if bound <= trailing or i == 0)
            name, rank, _ = tiers[level]
            result[(cid, month)] = {
                "customer_id": cid,
                "month_start": month_start(month),
                "month_end": month_end(month),
                "effective_end": min(month_end(month), model.as_of),
                "is_complete_month": month_end(month) <= model.as_of,
                "purchases_in_month": purchases[month],
                "net_revenue_in_month": revenue[month],
                "trailing_12m_net_revenue": trailing,
                "tier_name": name,
                "tier_rank": rank,
                "spend_to_next_tier": (tiers[level + 1][2] - trailing
                                       if level + 1 < len(tiers) else None),
                "previous_tier_name": previous[0] if previous else None,
                "tier_change": _change(rank, previous),
            }
            previous = (name, rank)
    return result


def compute_customer_tiers(tiers: dict[tuple[str, int], dict[str, Any]]) -> pd.DataFrame:
    """fct_customer_tiers: one row per customer x month."""
    frame = pd.DataFrame(list(tiers.values()), columns=TIER_COLUMNS, dtype=object)
    return frame.sort_values(["customer_id", "month_start"]).reset_index(drop=True)
