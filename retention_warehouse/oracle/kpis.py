"""fct_retention_kpis: one row per period x segment (docs/metrics.md, "Period KPIs").

For each period P = (s, e]: S = active at s, E = active at e, N = acquired in P (and
not closed by e), R = acquired by s, not active at s, active at e, L = active at s
and not at e. Segments: total, region, acquisition channel and the tier at the
period's last month. Leads (people with no purchase yet) count only in the funnel
columns (signups, leads_at_end), which have no tier segment.
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
from retention_warehouse.oracle.inputs import SURVEY_TYPES
from retention_warehouse.oracle.rates import (
    churn_rate,
    customer_retention_rate,
    is_detractor,
    is_promoter,
    is_satisfied,
    pct,
    ratio,
    strict_retention_rate,
)
from retention_warehouse.oracle.states import Customer, Model

KPI_COLUMNS = [
    "period_start", "period_end", "effective_end", "is_complete_period", "segment_type",
    "segment_value", "customers_at_start", "customers_at_end", "new_customers",
    "reactivated_customers", "lost_customers", "at_risk_customers_at_end",
    "customer_retention_rate", "strict_retention_rate", "churn_rate", "purchases",
    "purchasing_customers", "net_revenue", "average_order_value", "purchase_frequency",
    "repeat_purchase_interval_days", "referred_new_customers", "referral_rate",
    "nps_responses", "nps_promoters", "nps_detractors", "nps", "csat_responses",
    "csat_satisfied", "csat", "ces_responses", "ces",
    *[f"{stype}_{suffix}" for stype in SURVEY_TYPES
      for suffix in ("invitations", "invitations_answered", "response_rate")],
    "signups", "leads_at_end",
]

Tiers = dict[tuple[str, int], dict[str, Any]]


def _new_bucket() -> dict[str, Any]:
    bucket: dict[str, Any] = defaultdict(int)
    bucket["net_revenue"] = 0
    bucket["buyers"] = set()
    bucket["intervals"] = []
    bucket["scores"] = defaultdict(list)
    return bucket


class _Buckets:
    """Counters per (period, segment type, segment value)."""

    def __init__(self, model: Model, tiers: Tiers) -> None:
        self.model = model
        self.tiers = tiers
        self.acc: dict[tuple[int, str, str], dict[str, Any]] = {}

    def segments(self, cust: Customer, period: int) -> list[tuple[str, str]]:
        """Total, region, channel and the tier at the period's last (or as-of) month."""
        _, e, _ = period_bounds(period, self.model.as_of, self.model.grain)
        return [
            ("total", "all"),
            ("region", cust.person.region),
            ("acquisition_channel", cust.person.acquisition_channel),
            ("tier", self.tiers[(cust.customer_id, month_index(e))]["tier_name"]),
        ]

    def of(self, cust: Customer, period: int) -> list[dict[str, Any]]:
        """The buckets one customer counts in for a period."""
        return [self.bucket((period, *seg)) for seg in self.segments(cust, period)]

    def bucket(self, key: tuple[int, str, str]) -> dict[str, Any]:
        """The counters of one key (created empty)."""
        if key not in self.acc:
            self.acc[key] = _new_bucket()
        return self.acc[key]


def _count_states(model: Model, buckets: _Buckets, at_risk_days: int) -> None:
    churn_days = model.churn_days
    for period in model.periods():
        s, e, _ = period_bounds(period, model.as_of, model.grain)
        for cust in model.customers.values():
            acq = cust.acquisition_date
            if acq > e:
                continue
            active_s = cust.is_active(s, churn_days)
            active_e = cust.is_active(e, churn_days)
            last_e = cust.last_purchase_on_or_before(e)
            at_risk = active_e and last_e is not None and (e - last_e).days > at_risk_days
            # Acquired in P but closed by e: never active in P, not new
            # (docs/metric_decisions.md: keeps E = S - L + N + R exact).
            is_new = s < acq <= e and not (
                cust.closure_date is not None and cust.closure_date <= e)
            for b in buckets.of(cust, period):
                b["S"] += active_s
                b["E"] += active_e
                b["N"] += is_new
                b["R"] += acq <= s and not active_s and active_e
                b["L"] += active_s and not active_e
                b["at_risk"] += at_risk
                b["referred"] += is_new and cust.person.acquisition_channel == "referral"


def _count_purchases_and_surveys(model: Model, buckets: _Buckets) -> None:
    for cust in model.customers.values():
        for n, p in enumerate(cust.purchases):
            for b in buckets.of(cust, period_index(p.on, model.grain)):
                b["purchases"] += 1
                b["net_revenue"] += p.net_revenue
                b["buyers"].add(cust.customer_id)
                if n > 0:
                    b["intervals"].append((p.on - cust.purchases[n - 1].on).days)
    for r in model.responses:
        cust = model.customers.get(r.invitation.customer_id)
        on = r.responded_at.date()
        if cust is None or cust.acquisition_date > on:
            continue
        for b in buckets.of(cust, period_index(on, model.grain)):
            b["scores"][r.invitation.survey_type].append(r.score)
    answered = {r.invitation.invitation_id for r in model.responses}
    for inv in model.invitations:
        cust = model.customers.get(inv.customer_id)
        on = inv.sent_at.date()
        if cust is None or cust.acquisition_date > on:
            continue
        for b in buckets.of(cust, period_index(on, model.grain)):
            b[f"{inv.survey_type}_invitations"] += 1
            b[f"{inv.survey_type}_invitations_answered"] += inv.invitation_id in answered


def _count_funnel(model: Model, buckets: _Buckets) -> None:
    """Per period and total / region / channel (leads have no tier): the people who
    signed up in P and the people signed up by e with no purchase on or before e."""
    people = model.people()
    for period in model.periods():
        _, e, _ = period_bounds(period, model.as_of, model.grain)
        for person in people:
            signup = person.signup_at.date()
            if signup > e:
                continue
            cust = model.customers.get(person.customer_id)
            for seg in (("total", "all"), ("region", person.region),
                        ("acquisition_channel", person.acquisition_channel)):
                b = buckets.bucket((period, *seg))
                b["has_funnel"] = True
                b["signups"] += period_index(signup, model.grain) == period
                b["leads_at_end"] += cust is None or cust.acquisition_date > e


def _row(model: Model, key: tuple[int, str, str], b: dict[str, Any]) -> dict[str, Any]:
    period, seg_type, seg_value = key
    _, e, complete = period_bounds(period, model.as_of, model.grain)
    S, E, N, L = b["S"], b["E"], b["N"], b["L"]
    purchases, buyers = b["purchases"], len(b["buyers"])
    nps_scores, csat_scores = b["scores"]["nps"], b["scores"]["csat"]
    ces_scores = b["scores"]["ces"]
    promoters = sum(1 for x in nps_scores if is_promoter(x))
    detractors = sum(1 for x in nps_scores if is_detractor(x))
    satisfied = sum(1 for x in csat_scores if is_satisfied(x))
    row: dict[str, Any] = {
        "period_start": period_start(period, model.grain),
        "period_end": period_end(period, model.grain),
        "effective_end": e,
        "is_complete_period": complete,
        "segment_type": seg_type,
        "segment_value": seg_value,
        "customers_at_start": S,
        "customers_at_end": E,
        "new_customers": N,
        "reactivated_customers": b["R"],
        "lost_customers": L,
        "at_risk_customers_at_end": b["at_risk"],
        "customer_retention_rate": customer_retention_rate(S, E, N),
        "strict_retention_rate": strict_retention_rate(S, L),
        "churn_rate": churn_rate(S, L),
        "purchases": purchases,
        "purchasing_customers": buyers,
        "net_revenue": b["net_revenue"],
        "average_order_value": b["net_revenue"] / purchases if purchases else None,
        "purchase_frequency": ratio(purchases, buyers),
        "repeat_purchase_interval_days": ratio(sum(b["intervals"]), len(b["intervals"])),
        "referred_new_customers": b["referred"],
        "referral_rate": pct(b["referred"], N),
        "nps_responses": len(nps_scores),
        "nps_promoters": promoters,
        "nps_detractors": detractors,
        "nps": pct(promoters - detractors, len(nps_scores)),
        "csat_responses": len(csat_scores),
        "csat_satisfied": satisfied,
        "csat": pct(satisfied, len(csat_scores)),
        "ces_responses": len(ces_scores),
        "ces": ratio(sum(ces_scores), len(ces_scores)),
        "signups": b["signups"] if b["has_funnel"] else None,
        "leads_at_end": b["leads_at_end"] if b["has_funnel"] else None,
    }
    for stype in SURVEY_TYPES:
        invited, answered = b[f"{stype}_invitations"], b[f"{stype}_invitations_answered"]
        row[f"{stype}_invitations"] = invited
        row[f"{stype}_invitations_answered"] = answered
        row[f"{stype}_response_rate"] = pct(answered, invited)
    return row


def compute_retention_kpis(model: Model, tiers: Tiers, at_risk_days: int) -> pd.DataFrame:
    """fct_retention_kpis: one row per period x segment."""
    buckets = _Buckets(model, tiers)
    _count_states(model, buckets, at_risk_days)
    _count_purchases_and_surveys(model, buckets)
    _count_funnel(model, buckets)
    rows = [_row(model, key, b) for key, b in buckets.acc.items()]
    frame = pd.DataFrame(rows, columns=KPI_COLUMNS, dtype=object)
    return frame.sort_values(["period_start", "segment_type", "segment_value"]).reset_index(
        drop=True)
