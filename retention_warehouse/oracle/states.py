"""The customer model: purchases, customers and their state at any date.

A purchase is a completed order whose net amount (sale minus the refunds dated on or
before the as-of date) is above 0, valued in the reporting currency at the sale's
rate. A customer is a person with a purchase on or before the as-of date; they are
active at t when acquired by t, their last purchase on or before t is at most
``churn_inactivity_days`` before t, and no closure is dated on or before t
(docs/metrics.md, "Customer states").
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from retention_warehouse.oracle.calendar import period_index
from retention_warehouse.oracle.inputs import Landing, Seeds, load_seeds, read_raw_rows
from retention_warehouse.oracle.parsing import round_money
from retention_warehouse.oracle.staging import (
    Crm,
    Invitation,
    Person,
    Response,
    Txn,
    derive_crm,
    stage_crm,
    stage_events,
    stage_invitations,
    stage_responses,
    stage_spend,
    stage_transactions,
)


@dataclass(frozen=True)
class Params:
    """The run parameters the metrics depend on (the dbt vars)."""

    as_of: date | None = None  # None: the latest UTC date of any clean transaction
    churn_inactivity_days: int = 180
    at_risk_days: int = 90
    grain_months: int = 1  # retention_grain: month 1, quarter 3, year 12

    def check(self) -> None:
        """The rule of macros/validate_retention_config.sql, restated from the decision log."""
        grain_days = {1: 31, 3: 92, 12: 366}[self.grain_months]
        if self.churn_inactivity_days < grain_days:
            raise ValueError(
                f"churn_inactivity_days ({self.churn_inactivity_days}) must be >= the grain "
                f"length ({grain_days} days)")


@dataclass(frozen=True)
class Purchase:
    """A completed order with net amount > 0, valued in reporting currency."""

    order_id: str
    customer_id: str
    at: datetime
    on: date
    net_revenue: Decimal


@dataclass
class Customer:
    """A person with at least one purchase on or before the as-of date."""

    person: Person
    purchases: list[Purchase]
    closure_date: date | None
    dates: list[date] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.purchases.sort(key=lambda p: (p.at, p.order_id))
        self.dates = [p.on for p in self.purchases]

    @property
    def customer_id(self) -> str:
        """Survivor customer id."""
        return self.person.customer_id

    @property
    def acquisition_date(self) -> date:
        """Date of the first purchase."""
        return self.dates[0]

    def last_purchase_on_or_before(self, t: date) -> date | None:
        """Latest purchase date <= t."""
        i = bisect.bisect_right(self.dates, t)
        return self.dates[i - 1] if i else None

    def is_active(self, t: date, churn_days: int) -> bool:
        """Acquired <= t, last purchase >= t - churn_days, no closure <= t."""
        last = self.last_purchase_on_or_before(t)
        if last is None:
            return False
        if self.closure_date is not None and self.closure_date <= t:
            return False
        return (t - last).days <= churn_days


def customer_state(cust: Customer, s: date, e: date, churn_days: int, at_risk_days: int) -> str:
    """The customer's status at e for the period (s, e]: the first that applies of closed
    (closure dated <= e), churned (not active at e), new (acquired after s), reactivated
    (not active at s), at_risk (more than ``at_risk_days`` days since the last purchase),
    active. The one derivation: a period's customer_state and dim_customers' current
    status (the period holding the as-of date) both come from here."""
    if cust.closure_date is not None and cust.closure_date <= e:
        return "closed"
    if not cust.is_active(e, churn_days):
        return "churned"
    if s < cust.acquisition_date:
        return "new"
    if not cust.is_active(s, churn_days):
        return "reactivated"
    last = cust.last_purchase_on_or_before(e)
    assert last is not None
    return "at_risk" if (e - last).days > at_risk_days else "active"


@dataclass
class Model:
    """Everything the marts are computed from."""

    seeds: Seeds
    crm: Crm
    as_of: date
    customers: dict[str, Customer]
    invitations: list[Invitation]
    responses: list[Response]
    spend: dict[tuple[int, str], Decimal]
    params: Params = field(default_factory=Params)
    sales: list[Txn] = field(default_factory=list)  # clean sales dated <= as-of
    refunds: list[Txn] = field(default_factory=list)  # clean refunds dated <= as-of
    closures: dict[str, date] = field(default_factory=dict)  # persons, leads included
    last_transaction_date: date | None = None  # of any clean sale or refund, before the cut

    @property
    def churn_days(self) -> int:
        """var churn_inactivity_days."""
        return self.params.churn_inactivity_days

    @property
    def grain(self) -> int:
        """Months per period."""
        return self.params.grain_months

    def people(self) -> list[Person]:
        """CRM persons (deduplicated, no test accounts) signed up on or before the as-of date."""
        return [p for p in self.crm.persons.values() if p.signup_at.date() <= self.as_of]

    def periods(self) -> list[int]:
        """Periods from the first acquisition or signup (customers and leads) to the as-of."""
        starts = [period_index(c.acquisition_date, self.grain) for c in self.customers.values()]
        starts += [period_index(p.signup_at.date(), self.grain) for p in self.people()]
        if not starts:
            return []
        return list(range(min(starts), period_index(self.as_of, self.grain) + 1))


def default_as_of(sales: list[Txn], refunds: list[Txn]) -> date | None:
    """The default as-of date: the latest UTC date of any clean transaction (sale or refund)."""
    dates = [t.on for t in sales] + [t.on for t in refunds]
    return max(dates) if dates else None


def build_model(raw_dir: Path, seeds_dir: Path, params: Params,
                landing: Landing | None = None) -> Model:
    """Stage every raw table and build purchases and customers as of the as-of date."""
    landing = landing or Landing()
    seeds = load_seeds(seeds_dir).with_supplied_rates(read_raw_rows(raw_dir, "fx_rates", landing))
    ledger = read_raw_rows(raw_dir, "transactions", landing)
    if landing.files(raw_dir, "crm_customers"):
        crm = stage_crm(read_raw_rows(raw_dir, "crm_customers", landing), seeds)
    else:  # no CRM export: customers are derived from the ledger
        crm = derive_crm(ledger)
    sales, refunds = stage_transactions(ledger, crm, seeds, landing.default_currency)
    last_transaction_date = default_as_of(sales, refunds)
    as_of = params.as_of or last_transaction_date or date.today()

    sales = [sale for sale in sales if sale.on <= as_of]
    refunds = [txn for txn in refunds if txn.on <= as_of]
    refunded: dict[str, Decimal] = defaultdict(Decimal)
    for txn in refunds:
        refunded[txn.order_id] += txn.amount
    purchases_by_customer: dict[str, list[Purchase]] = defaultdict(list)
    for sale in sales:
        if sale.status != "completed":
            continue
        net = sale.amount - refunded[sale.order_id]
        if net <= 0:
            continue
        rate = seeds.fx_rate(sale.currency, sale.on)
        assert rate is not None
        purchases_by_customer[sale.customer_id].append(
            Purchase(sale.order_id, sale.customer_id, sale.at, sale.on, round_money(net * rate))
        )

    closures: dict[str, date] = {}
    for cid, on in stage_events(read_raw_rows(raw_dir, "crm_account_events", landing), crm):
        if on <= as_of and (cid not in closures or on < closures[cid]):
            closures[cid] = on
    customers = {
        cid: Customer(crm.persons[cid], plist, closures.get(cid))
        for cid, plist in purchases_by_customer.items()
    }
    invitations = stage_invitations(read_raw_rows(raw_dir, "survey_invitations", landing), crm)
    responses = [
        r
        for r in stage_responses(read_raw_rows(raw_dir, "survey_responses", landing),
                                 invitations, seeds)
        if r.responded_at.date() <= as_of
    ]
    return Model(
        seeds=seeds,
        crm=crm,
        as_of=as_of,
        customers=customers,
        invitations=[i for i in invitations.values() if i.sent_at.date() <= as_of],
        responses=responses,
        spend=stage_spend(read_raw_rows(raw_dir, "marketing_spend", landing), seeds),
        params=params,
        sales=sales,
        refunds=refunds,
        closures=closures,
        last_transaction_date=last_transaction_date,
    )
