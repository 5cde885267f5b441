"""The core marts: fct_orders (one row per order) and dim_customers (one per person).

fct_orders holds every clean sale of a real person dated on or before the as-of date,
cancelled ones included, netted by its refunds dated on or before the as-of date;
revenue is booked for purchases only. dim_customers holds every real CRM person
signed up on or before the as-of date, with their current state (docs/metrics.md
and docs/metric_decisions.md, "Customer status, derived once", "Lifecycle segment").
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from retention_warehouse.oracle.calendar import (
    month_index,
    period_bounds,
    period_index,
    period_start,
)
from retention_warehouse.oracle.parsing import round_money
from retention_warehouse.oracle.states import Model, customer_state
from retention_warehouse.oracle.value import net_revenue

ORDER_COLUMNS = [
    "order_id", "customer_id", "ordered_at", "order_date", "order_period_start",
    "order_status", "is_cancelled", "currency_code", "sale_amount", "refunded_amount",
    "net_amount", "refunds", "fx_rate_to_reporting", "gross_revenue", "net_revenue",
    "is_purchase", "purchase_sequence_number", "is_new_customer_purchase",
    "is_repeat_purchase", "previous_purchase_date", "days_since_previous_purchase",
]
CUSTOMER_COLUMNS = [
    "customer_id", "country_code", "region", "acquisition_channel", "is_referred",
    "signup_date", "signup_cohort", "is_lead", "acquisition_date", "acquisition_cohort",
    "first_purchase_date", "last_purchase_date", "orders", "net_revenue",
    "days_since_last_purchase", "lifecycle_segment", "current_tier", "current_tier_since",
    "trailing_12m_net_revenue", "current_status", "closed_date", "as_of_date",
]


def compute_orders(model: Model) -> pd.DataFrame:
    """fct_orders: one row per order."""
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    refund_count: dict[str, int] = defaultdict(int)
    for txn in model.refunds:
        refunded[txn.order_id] += txn.amount
        refund_count[txn.order_id] += 1
    rows = []
    for sale in model.sales:
        net = sale.amount - refunded[sale.order_id]
        rate = model.seeds.fx_rate(sale.currency, sale.on)
        assert rate is not None
        purchase = sale.status == "completed" and net > 0
        rows.append({
            "order_id": sale.order_id,
            "customer_id": sale.customer_id,
            "ordered_at": sale.at.replace(tzinfo=None),
            "order_date": sale.on,
            "order_period_start": period_start(period_index(sale.on, model.grain), model.grain),
            "order_status": sale.status,
            "is_cancelled": sale.status == "cancelled",
            "currency_code": sale.currency,
            "sale_amount": sale.amount,
            "refunded_amount": refunded[sale.order_id],
            "net_amount": net,
            "refunds": refund_count[sale.order_id],
            "fx_rate_to_reporting": rate,
            "gross_revenue": round_money(sale.amount * rate),
            "net_revenue": round_money(net * rate) if purchase else Decimal(0),
            "is_purchase": purchase,
        })
    _number_purchases(rows)
    frame = pd.DataFrame(rows, columns=ORDER_COLUMNS, dtype=object)
    return frame.sort_values("order_id").reset_index(drop=True)


def _number_purchases(rows: list[dict[str, Any]]) -> None:
    """Purchase sequence number and the previous purchase, per customer, by time."""
    previous: dict[str, tuple[int, date]] = {}
    for row in sorted(rows, key=lambda r: (r["customer_id"], r["ordered_at"], r["order_id"])):
        row.update(purchase_sequence_number=None, previous_purchase_date=None,
                   days_since_previous_purchase=None)
        if row["is_purchase"]:
            number, before = previous.get(row["customer_id"], (0, None))
            row["purchase_sequence_number"] = number + 1
            row["previous_purchase_date"] = before
            if before is not None:
                row["days_since_previous_purchase"] = (row["order_date"] - before).days
            previous[row["customer_id"]] = (number + 1, row["order_date"])
        row["is_new_customer_purchase"] = row["purchase_sequence_number"] == 1
        row["is_repeat_purchase"] = (row["purchase_sequence_number"] or 0) > 1


def _current_status(model: Model, customer_id: str, at_risk_days: int) -> str:
    """The customer's state in the period holding the as-of date; lead without a purchase."""
    cust = model.customers.get(customer_id)
    if cust is None:
        return "lead"
    s, e, _ = period_bounds(period_index(model.as_of, model.grain), model.as_of, model.grain)
    return customer_state(cust, s, e, model.churn_days, at_risk_days)


def compute_customers(model: Model, tiers: dict[tuple[str, int], dict[str, Any]],
                      at_risk_days: int) -> pd.DataFrame:
    """dim_customers: one row per real person signed up on or before the as-of date."""
    as_of_month = month_index(model.as_of)
    entered: dict[str, date] = {}
    for (cid, _), row in sorted(tiers.items()):
        if row["tier_change"] != "same":
            entered[cid] = row["month_start"]
    rows = []
    for person in model.people():
        cid = person.customer_id
        cust = model.customers.get(cid)
        current = tiers.get((cid, as_of_month)) if cust else None
        tier = current["tier_name"] if current else None
        orders = len(cust.purchases) if cust else 0
        segment = ("lead" if cust is None else "vip" if tier == "vip"
                   else "one_time" if orders == 1 else "repeat")
        rows.append({
            "customer_id": cid,
            "country_code": person.country_code or None,
            "region": person.region,
            "acquisition_channel": person.acquisition_channel,
            "is_referred": person.acquisition_channel == "referral",
            "signup_date": person.signup_at.date(),
            "signup_cohort": period_start(period_index(person.signup_at.date(), model.grain),
                                          model.grain),
            "is_lead": cust is None,
            "acquisition_date": cust.acquisition_date if cust else None,
            "acquisition_cohort": (period_start(period_index(cust.acquisition_date, model.grain),
                                                model.grain) if cust else None),
            "first_purchase_date": cust.dates[0] if cust else None,
            "last_purchase_date": cust.dates[-1] if cust else None,
            "orders": orders,
            "net_revenue": net_revenue(cust) if cust else Decimal(0),
            "days_since_last_purchase": (model.as_of - cust.dates[-1]).days if cust else None,
            "lifecycle_segment": segment,
            "current_tier": tier,
            "current_tier_since": entered.get(cid) if cust else None,
            "trailing_12m_net_revenue": current["trailing_12m_net_revenue"] if current else None,
            "current_status": _current_status(model, cid, at_risk_days),
            "closed_date": model.closures.get(cid),
            "as_of_date": model.as_of,
        })
    frame = pd.DataFrame(rows, columns=CUSTOMER_COLUMNS, dtype=object)
    return frame.sort_values("customer_id").reset_index(drop=True)
