"""fct_customer_periods: the customer states per period, the grain of the semantic layer.

One row per customer and period from the acquisition period to the as-of period in
which the customer can count (docs/metric_decisions.md): active at s or at e, a purchase,
a survey invitation sent or a response given in P, or P holds the as-of date. A period
in which the customer is inactive at both ends and did nothing adds nothing to any sum,
so it has no row. Each row has the flags whose sums are the period KPIs (S, E, N, R, L,
at risk) and the customer's state at the period's end (states.customer_state).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pandas as pd

from retention_warehouse.oracle.calendar import (
    month_index,
    period_bounds,
    period_end,
    period_index,
    period_start,
)
from retention_warehouse.oracle.states import Customer, Model, customer_state

PERIOD_COLUMNS = [
    "customer_id", "period_start", "period_end", "effective_end", "is_complete_period",
    "region", "acquisition_channel", "tier_at_end", "customer_state", "is_referred",
    "acquisition_date", "is_active_at_start", "is_active_at_end", "is_new", "is_reactivated",
    "is_lost", "is_at_risk_at_end", "is_referred_new", "days_since_last_purchase_at_end",
]


def _row(model: Model, cust: Customer, period: int, tiers: dict, at_risk_days: int
         ) -> dict[str, Any]:
    s, e, complete = period_bounds(period, model.as_of, model.grain)
    acq, closure = cust.acquisition_date, cust.closure_date
    active_s = cust.is_active(s, model.churn_days)
    active_e = cust.is_active(e, model.churn_days)
    last = cust.last_purchase_on_or_before(e)
    assert last is not None
    days = (e - last).days
    closed = closure is not None and closure <= e
    new = s < acq and not closed
    reactivated = acq <= s and not active_s and active_e
    at_risk = active_e and days > at_risk_days
    referred = cust.person.acquisition_channel == "referral"
    return {
        "customer_id": cust.customer_id,
        "period_start": period_start(period, model.grain),
        "period_end": period_end(period, model.grain),
        "effective_end": e,
        "is_complete_period": complete,
        "region": cust.person.region,
        "acquisition_channel": cust.person.acquisition_channel,
        "tier_at_end": tiers[(cust.customer_id, month_index(e))]["tier_name"],
        "customer_state": customer_state(cust, s, e, model.churn_days, at_risk_days),
        "is_referred": referred,
        "acquisition_date": acq,
        "is_active_at_start": active_s,
        "is_active_at_end": active_e,
        "is_new": new,
        "is_reactivated": reactivated,
        "is_lost": active_s and not active_e,
        "is_at_risk_at_end": at_risk,
        "is_referred_new": new and referred,
        "days_since_last_purchase_at_end": days,
    }


def _busy_periods(model: Model) -> dict[str, set[int]]:
    """Per customer: the periods holding a purchase, a survey invitation or a response."""
    busy: dict[str, set[int]] = defaultdict(set)
    for cust in model.customers.values():
        busy[cust.customer_id].update(period_index(p.on, model.grain) for p in cust.purchases)
    dated = [(inv.customer_id, inv.sent_at.date()) for inv in model.invitations]
    dated += [(r.invitation.customer_id, r.responded_at.date()) for r in model.responses]
    for customer_id, on in dated:
        if on <= model.as_of:
            busy[customer_id].add(period_index(on, model.grain))
    return busy


def _counts(model: Model, cust: Customer, period: int, busy: set[int], last: int) -> bool:
    if period == last or period in busy:
        return True
    s, e, _ = period_bounds(period, model.as_of, model.grain)
    return cust.is_active(s, model.churn_days) or cust.is_active(e, model.churn_days)


def compute_customer_periods(model: Model, tiers: dict, at_risk_days: int) -> pd.DataFrame:
    """fct_customer_periods: one row per customer x period in which the customer can count."""
    last = period_index(model.as_of, model.grain)
    busy = _busy_periods(model)
    rows = [_row(model, cust, period, tiers, at_risk_days)
            for cust in model.customers.values()
            for period in range(period_index(cust.acquisition_date, model.grain), last + 1)
            if _counts(model, cust, period, busy[cust.customer_id], last)]
    frame = pd.DataFrame(rows, columns=PERIOD_COLUMNS, dtype=object)
    return frame.sort_values(["customer_id", "period_start"]).reset_index(drop=True)
