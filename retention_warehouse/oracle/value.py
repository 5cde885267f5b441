"""Customer lifetime value, CAC and the value segments (docs/metrics.md, "Value").

CAC = marketing spend of the channel in the acquisition month / customers acquired
through it that month, rounded to the cent half away from zero (NULL when the channel
had no spend that month); historical
CLTV = net revenue - CAC; predicted CLTV = AOV x purchases per year x expected
lifespan (1 / annual churn) - average CAC. The annual churn window runs from the end
of the month 12 months before the last complete period's last month to that month.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pandas as pd

from retention_warehouse.oracle.calendar import (
    last_complete_period,
    month_end,
    month_index,
    period_end,
    period_index,
    period_start,
)
from retention_warehouse.oracle.parsing import round_money
from retention_warehouse.oracle.rates import pct, ratio
from retention_warehouse.oracle.states import Customer, Model

DAYS_PER_YEAR = Decimal("365.25")

CLTV_COLUMNS = [
    "customer_id", "acquisition_channel", "region", "country_code", "acquisition_date",
    "acquisition_cohort", "first_purchase_date", "last_purchase_date", "orders",
    "net_revenue", "average_order_value", "lifespan_days", "tenure_days",
    "purchases_per_year", "cac", "historical_cltv",
]
SEGMENT_COLUMNS = [
    "segment_type", "segment_value", "customers", "purchases", "net_revenue",
    "average_order_value", "purchase_frequency_per_year", "annual_churn_rate",
    "expected_lifespan_years", "average_cac", "predicted_cltv", "top_10pct_revenue_share",
    "top_20pct_revenue_share",
]


def cac_by_customer(model: Model) -> dict[str, Decimal | None]:
    """Each customer's CAC (None when the channel had no spend in the acquisition month)."""
    acquired: dict[tuple[int, str], int] = defaultdict(int)
    for c in model.customers.values():
        acquired[(month_index(c.acquisition_date), c.person.acquisition_channel)] += 1
    result: dict[str, Decimal | None] = {}
    for cid, c in model.customers.items():
        key = (month_index(c.acquisition_date), c.person.acquisition_channel)
        spend = model.spend.get(key)
        # Rounded to the cent, half away from zero (docs/metric_decisions.md, CAC).
        result[cid] = None if spend is None else round_money(spend / acquired[key])
    return result


def net_revenue(customer: Customer) -> Decimal:
    """Sum of the customer's purchases' net revenue."""
    return sum((p.net_revenue for p in customer.purchases), Decimal(0))


def compute_customer_lifetime_value(model: Model) -> pd.DataFrame:
    """fct_customer_lifetime_value: one row per customer."""
    cac = cac_by_customer(model)
    rows = []
    for cid, c in model.customers.items():
        orders = len(c.purchases)
        net = net_revenue(c)
        tenure = (model.as_of - c.acquisition_date).days + 1
        rows.append({
            "customer_id": cid,
            "acquisition_channel": c.person.acquisition_channel,
            "region": c.person.region,
            "country_code": c.person.country_code or None,
            "acquisition_date": c.acquisition_date,
            "acquisition_cohort": period_start(period_index(c.acquisition_date, model.grain),
                                               model.grain),
            "first_purchase_date": c.dates[0],
            "last_purchase_date": c.dates[-1],
            "orders": orders,
            "net_revenue": net,
            "average_order_value": net / orders,
            "lifespan_days": (c.dates[-1] - c.dates[0]).days + 1,
            "tenure_days": tenure,
            "purchases_per_year": float(orders * DAYS_PER_YEAR / tenure),
            "cac": cac[cid],
            "historical_cltv": None if cac[cid] is None else net - cac[cid],
        })
    frame = pd.DataFrame(rows, columns=CLTV_COLUMNS, dtype=object)
    return frame.sort_values("customer_id").reset_index(drop=True)


def _top_share(ranked: list[Customer], revenue_of: dict[str, Decimal], count: int) -> float | None:
    """Share (%) of the segment's net revenue from its first ``count`` ranked customers."""
    top = sum((revenue_of[c.customer_id] for c in ranked[:count]), Decimal(0))
    return pct(top, sum(revenue_of.values(), Decimal(0)))


def _groups(model: Model) -> dict[tuple[str, str], list[Customer]]:
    groups: dict[tuple[str, str], list[Customer]] = defaultdict(list)
    for c in model.customers.values():
        cohort = period_start(period_index(c.acquisition_date, model.grain), model.grain)
        groups[("total", "all")].append(c)
        groups[("acquisition_cohort", cohort.isoformat())].append(c)
        groups[("acquisition_channel", c.person.acquisition_channel)].append(c)
        groups[("region", c.person.region)].append(c)
    return groups


def _segment_row(model: Model, key: tuple[str, str], members: list[Customer],
                 cac: dict[str, Decimal | None]) -> dict[str, object]:
    last_month = month_index(period_end(last_complete_period(model.as_of, model.grain),
                                        model.grain))
    window_start, window_end = month_end(last_month - 12), month_end(last_month)
    n = len(members)
    purchases = sum(len(c.purchases) for c in members)
    revenue_of = {c.customer_id: net_revenue(c) for c in members}
    net = sum(revenue_of.values(), Decimal(0))
    tenure_days = sum((model.as_of - c.acquisition_date).days + 1 for c in members)
    aov = net / purchases
    frequency = Decimal(purchases) * DAYS_PER_YEAR / Decimal(tenure_days)
    start_active = [c for c in members if c.is_active(window_start, model.churn_days)]
    S = len(start_active)
    L = sum(1 for c in start_active if not c.is_active(window_end, model.churn_days))
    churn = pct(L, S)
    known = [cac[c.customer_id] for c in members if cac[c.customer_id] is not None]
    avg_cac = sum(known, Decimal(0)) / len(known) if known else None
    predicted = None
    if churn and avg_cac is not None:
        predicted = aov * frequency * (Decimal(S) / Decimal(L)) - avg_cac
    ranked = sorted(members, key=lambda c: (-revenue_of[c.customer_id], c.customer_id))
    return {
        "segment_type": key[0],
        "segment_value": key[1],
        "customers": n,
        "purchases": purchases,
        "net_revenue": net,
        "average_order_value": aov,
        "purchase_frequency_per_year": float(frequency),
        "annual_churn_rate": churn,
        "expected_lifespan_years": ratio(S, L) if churn else None,
        "average_cac": avg_cac,
        "predicted_cltv": predicted,
        "top_10pct_revenue_share": _top_share(ranked, revenue_of, -(-n // 10)),
        "top_20pct_revenue_share": _top_share(ranked, revenue_of, -(-n // 5)),
    }


def compute_lifetime_value_segments(model: Model) -> pd.DataFrame:
    """fct_lifetime_value_segments: total, acquisition cohort, channel and region."""
    cac = cac_by_customer(model)
    rows = [_segment_row(model, key, members, cac) for key, members in _groups(model).items()]
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS, dtype=object)
    return frame.sort_values(["segment_type", "segment_value"]).reset_index(drop=True)
