"""Expected orders and customers, computed in pandas from staging, from docs/metrics.md.

Nothing here reads a mart or an intermediate model. Money is kept as exact
``Decimal`` until the final comparison, and rounded half away from zero as
docs/metric_decisions.md says.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from retention_warehouse.pii import keyed_hash
from retention_warehouse.quality.inputs import Params

CENT = Decimal("0.01")
CLOSING_EVENTS = ("closure", "erasure_request")


def customer_key(customer_id: object, key: str) -> str:
    """The mart join key: HMAC-SHA256 (hex) of the customer id (macro hash_pii)."""
    return keyed_hash(customer_id, key)


def round_money(value: Decimal) -> Decimal:
    """Round to cents, half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class CustomerBase:
    """Expected per-order and per-person facts every other expected value builds on."""

    orders: pd.DataFrame  # one row per order of a real person, dated on or before as-of
    purchases: pd.DataFrame  # the purchases among them (completed, net > 0)
    people: pd.DataFrame  # one row per real CRM person, indexed by customer_id
    params: Params

    @property
    def customers(self) -> pd.DataFrame:
        """People with at least one purchase."""
        return self.people[~self.people["is_lead"]]


def expected_orders(inputs: dict[str, pd.DataFrame], params: Params) -> pd.DataFrame:
    """Orders netted by their refunds up to the as-of date, with purchase numbering."""
    orders = inputs["orders"]
    orders = orders[~orders["is_test_account"] & (orders["order_date"] <= params.as_of)].copy()
    refunds = inputs["refunds"]
    refunds = refunds[~refunds["is_test_account"] & (refunds["refund_date"] <= params.as_of)]
    refunded = refunds.groupby("order_id")["refund_amount"].agg(
        lambda amounts: sum(amounts, Decimal(0)))
    refund_counts = refunds.groupby("order_id").size()
    orders["refunded_amount"] = orders["order_id"].map(refunded).map(
        lambda amount: Decimal(0) if pd.isna(amount) else amount
    ).astype(object)
    orders["refunds"] = orders["order_id"].map(refund_counts).fillna(0).astype("int64")
    orders["net_amount"] = [
        sale - refund
        for sale, refund in zip(orders["sale_amount"], orders["refunded_amount"], strict=True)
    ]
    orders["is_purchase"] = ~orders["is_cancelled"] & orders["net_amount"].map(lambda net: net > 0)
    orders["net_revenue"] = [
        round_money(net * rate)
        for net, rate in zip(orders["net_amount"], orders["fx_rate_to_reporting"], strict=True)
    ]
    purchases = orders[orders["is_purchase"]].sort_values(["customer_id", "ordered_at", "order_id"])
    sequence = purchases.groupby("customer_id").cumcount() + 1
    orders["purchase_sequence_number"] = sequence.reindex(orders.index).astype("Int64")
    previous = purchases.groupby("customer_id")["order_date"].shift(1)
    orders["previous_purchase_date"] = previous.reindex(orders.index)
    orders["customer_key"] = [customer_key(customer_id, params.hash_key)
                              for customer_id in orders["customer_id"]]
    return orders


def closure_dates(inputs: dict[str, pd.DataFrame], params: Params) -> pd.Series:
    """First closure or erasure request on or before the as-of date, per customer id."""
    events = inputs["events"]
    events = events[
        ~events["is_test_account"]
        & events["event_type"].isin(CLOSING_EVENTS)
        & (events["event_date"] <= params.as_of)
    ]
    return events.groupby("customer_id")["event_date"].min()


def expected_people(
    inputs: dict[str, pd.DataFrame], purchases: pd.DataFrame, params: Params
) -> pd.DataFrame:
    """One row per real CRM person signed up by the as-of date: attributes, purchases, closure."""
    people = inputs["customers"]  # nobody who signed up after the as-of date is known yet
    people = people[~people["is_test_account"] & (people["signup_date"] <= params.as_of)]
    people = people.set_index("customer_id")
    regions = inputs["regions"].set_index("country_code")["region"]
    by_customer = purchases.groupby("customer_id")
    frame = pd.DataFrame(index=people.index)
    frame["customer_key"] = [customer_key(customer_id, params.hash_key)
                             for customer_id in people.index]
    # A country the seed does not list (or none, e.g. customers derived from the ledger)
    # is region unknown (docs/metric_decisions.md).
    frame["region"] = people["country_code"].map(regions).fillna("unknown")
    frame["acquisition_channel"] = people["acquisition_channel"]
    frame["signup_date"] = people["signup_date"]
    frame["orders"] = by_customer.size().reindex(people.index).fillna(0).astype("int64")
    frame["net_revenue"] = by_customer["net_revenue"].agg(
        lambda amounts: sum(amounts, Decimal(0))
    ).reindex(people.index)
    frame["first_purchase_date"] = by_customer["order_date"].min().reindex(people.index)
    frame["last_purchase_date"] = by_customer["order_date"].max().reindex(people.index)
    frame["is_lead"] = frame["orders"] == 0
    frame["closed_date"] = closure_dates(inputs, params).reindex(people.index)
    return frame


def customer_base(inputs: dict[str, pd.DataFrame], params: Params) -> CustomerBase:
    """Orders, purchases and people, all computed from staging."""
    orders = expected_orders(inputs, params)
    purchases = orders[orders["is_purchase"]]
    people = expected_people(inputs, purchases, params)
    return CustomerBase(orders=orders, purchases=purchases, people=people, params=params)
