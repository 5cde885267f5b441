"""fct_churn_reasons: the customers lost in each period by exit-survey reason.

Each customer lost in P is given the category of their latest exit-survey response
dated on or after their last purchase (as of e) and on or before the as-of date; no
such response, or one without a reason, is ``no_answer``.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import pandas as pd

from retention_warehouse.oracle.calendar import period_bounds, period_end, period_start
from retention_warehouse.oracle.inputs import NO_ANSWER
from retention_warehouse.oracle.rates import pct
from retention_warehouse.oracle.staging import Response
from retention_warehouse.oracle.states import Customer, Model

CHURN_COLUMNS = [
    "period_start", "period_end", "is_complete_period", "reason_category",
    "churned_customers", "customers_in_category", "share_of_churned_pct",
]


def _category(model: Model, customer: Customer, exits: list[Response], e: date) -> str:
    last = customer.last_purchase_on_or_before(e)
    assert last is not None
    eligible = [r for r in exits if r.responded_at.date() >= last]
    if not eligible:
        return NO_ANSWER
    latest = max(eligible, key=lambda r: (r.responded_at, r.response_id))
    if not latest.exit_reason_code:
        return NO_ANSWER
    return model.seeds.reason_category[latest.exit_reason_code]


def compute_churn_reasons(model: Model) -> pd.DataFrame:
    """One row per period x reason category (the seed's categories and no_answer)."""
    exits: dict[str, list[Response]] = defaultdict(list)
    for r in model.responses:
        if r.invitation.survey_type == "exit":
            exits[r.invitation.customer_id].append(r)
    categories = [*model.seeds.reason_categories, NO_ANSWER]
    rows = []
    for period in model.periods():
        s, e, complete = period_bounds(period, model.as_of, model.grain)
        counts: dict[str, int] = defaultdict(int)
        lost = 0
        for c in model.customers.values():
            if c.is_active(s, model.churn_days) and not c.is_active(e, model.churn_days):
                lost += 1
                counts[_category(model, c, exits[c.customer_id], e)] += 1
        for category in categories:
            rows.append({
                "period_start": period_start(period, model.grain),
                "period_end": period_end(period, model.grain),
                "is_complete_period": complete,
                "reason_category": category,
                "churned_customers": lost,
                "customers_in_category": counts[category],
                "share_of_churned_pct": pct(counts[category], lost),
            })
    return pd.DataFrame(rows, columns=CHURN_COLUMNS, dtype=object)
