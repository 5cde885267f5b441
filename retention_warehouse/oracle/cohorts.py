"""fct_cohort_retention: cohort x period number (docs/metrics.md, "Cohort retention").

active_customers(k) = cohort members with a purchase in period cohort + k;
unbounded(k) = members whose last purchase is in a period >= cohort + k;
revenue_retention_pct(k) = the cohort's net revenue in period k / in period 0 x 100.
Cohorts: acquisition period, signup period (customers only) and acquisition period x
channel; k runs from 0 to the as-of period.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pandas as pd

from retention_warehouse.oracle.calendar import period_bounds, period_index, period_start
from retention_warehouse.oracle.rates import pct
from retention_warehouse.oracle.states import Customer, Model

COHORT_COLUMNS = [
    "cohort_type", "cohort_period_start", "acquisition_channel", "period_number",
    "period_start", "is_complete_period", "cohort_size", "active_customers", "retention_pct",
    "unbounded_retained_customers", "unbounded_retention_pct", "net_revenue",
    "revenue_retention_pct",
]


def _cohorts(model: Model) -> dict[tuple[str, int, str], list[Customer]]:
    grain = model.grain
    cohorts: dict[tuple[str, int, str], list[Customer]] = defaultdict(list)
    for cust in model.customers.values():
        acq = period_index(cust.acquisition_date, grain)
        cohorts[("acquisition", acq, "all")].append(cust)
        cohorts[("signup", period_index(cust.person.signup_at.date(), grain), "all")].append(cust)
        cohorts[("acquisition_channel", acq, cust.person.acquisition_channel)].append(cust)
    return cohorts


def compute_cohort_retention(model: Model) -> pd.DataFrame:
    """fct_cohort_retention: cohort x period number k from 0 to the as-of period."""
    grain = model.grain
    as_of_period = period_index(model.as_of, grain)
    rows = []
    for (ctype, cohort, channel), members in _cohorts(model).items():
        size = len(members)
        buy_periods = [{period_index(p.on, grain) for p in c.purchases} for c in members]
        last_periods = [period_index(c.dates[-1], grain) for c in members]
        revenue: dict[int, Decimal] = defaultdict(Decimal)
        for c in members:
            for p in c.purchases:
                revenue[period_index(p.on, grain)] += p.net_revenue
        for k in range(0, as_of_period - cohort + 1):
            period = cohort + k
            active = sum(1 for periods in buy_periods if period in periods)
            unbounded = sum(1 for last in last_periods if last >= period)
            rows.append({
                "cohort_type": ctype,
                "cohort_period_start": period_start(cohort, grain),
                "acquisition_channel": channel,
                "period_number": k,
                "period_start": period_start(period, grain),
                "is_complete_period": period_bounds(period, model.as_of, grain)[2],
                "cohort_size": size,
                "active_customers": active,
                "retention_pct": pct(active, size),
                "unbounded_retained_customers": unbounded,
                "unbounded_retention_pct": pct(unbounded, size),
                "net_revenue": revenue[period],
                "revenue_retention_pct": pct(revenue[period], revenue[cohort]),
            })
    frame = pd.DataFrame(rows, columns=COHORT_COLUMNS, dtype=object)
    return frame.sort_values(COHORT_COLUMNS[:4]).reset_index(drop=True)
