"""One chunk of customers turned into the rows of every raw table (as codes).

The frames built here hold numbers and codes only (customer numbers, epoch
seconds, cents, indexes into the lookup tuples of ``simulate``) plus a defect
code per row; ``writer`` renders them as contract text. Keeping the heavy
lifting numeric is what lets a million customers generate in minutes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from retention_warehouse.generate import defects as d
from retention_warehouse.generate.fx import CHF_FIRST_RATE, CURRENCIES
from retention_warehouse.generate.simulate import (
    CHANNELS,
    COUNTRY_OFFSET_MIN,
    CURRENCY_OF_COUNTRY,
    DAY,
    EXIT_REASON_WEIGHTS,
    EXIT_REASONS,
    STORE,
    Customers,
    FxRates,
    Period,
    convert_usd,
    epoch,
    simulate_customers,
    simulate_orders,
)

# Timestamp renderings (writer.TIMESTAMP_SQL).
TS_ISO, TS_DAY_FIRST, TS_NO_OFFSET, TS_UNPARSEABLE, TS_BLANK = 0, 1, 2, 3, 4
# Transaction defect codes.
T_NEGATIVE, T_UNKNOWN_CURRENCY, T_MISSING_FX, T_MISSING_FIELD, T_UNPARSEABLE = 1, 2, 3, 4, 5
T_SECOND_FORMAT, T_NO_OFFSET, T_REFUND_EXCEEDS, T_UNKNOWN_CUSTOMER, T_UNKNOWN_ORDER = (
    6, 7, 8, 9, 10)
ZZZ = len(CURRENCIES)  # index of the unknown currency code in writer's list
ID_SPACE = 10_000_000  # ids per chunk for transactions, orders, invitations, responses
DUPLICATE_ID_BASE = 50_000_000
UNKNOWN_CUSTOMER_BASE = 90_000_000


@dataclass
class Chunk:
    """The raw rows of one chunk, plus what was injected."""

    tables: dict[str, pd.DataFrame]
    defects: Counter = field(default_factory=Counter)
    signups: pd.DataFrame | None = None  # month, country, channel of each new customer


def _offset(customers: Customers, owner: np.ndarray) -> np.ndarray:
    return COUNTRY_OFFSET_MIN[customers.country[owner]]


def build_customers(customers: Customers, period: Period, rng: np.random.Generator,
                    counts: Counter) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """CRM rows, with re-registered persons and exact duplicates.

    Returns the frame and, per customer, the duplicate id's number (0 = none)
    and when that duplicate registered.
    """
    n = len(customers.number)
    updated = np.minimum(customers.signup + (rng.exponential(200.0, n) * DAY).astype(np.int64),
                         period.end)
    dup_signup = customers.signup + (rng.uniform(30, 400, n) * DAY).astype(np.int64)
    has_dup = (rng.random(n) < d.rate("duplicate_person")) & (dup_signup <= period.end)
    has_dup &= ~customers.is_test
    dup_number = np.where(has_dup, DUPLICATE_ID_BASE + customers.number, 0)
    counts["test_account"] += int(customers.is_test.sum())
    counts["duplicate_person"] += int(has_dup.sum())
    base = pd.DataFrame({
        "number": customers.number,
        "email_number": customers.number,
        "email_variant": np.zeros(n, np.int8),
        "first_name": customers.first_name,
        "last_name": customers.last_name,
        "domain": customers.domain,
        "country": customers.country,
        "phone_digits": rng.integers(100_000_000, 999_999_999, n),
        "has_phone": rng.random(n) < 0.9,
        "birth_day": rng.integers(-7300, 12800, n),  # days since 1970-01-01
        "has_birth_date": rng.random(n) < 0.92,
        "has_language": rng.random(n) < 0.95,
        "signup": customers.signup,
        "offset_min": COUNTRY_OFFSET_MIN[customers.country],
        "channel": customers.channel,
        "referrer": customers.referrer,
        "consent": customers.consent,
        "is_test": customers.is_test,
        "updated": np.maximum(updated, customers.signup),
    })
    dups = base[has_dup].copy()
    dups["number"] = dup_number[has_dup]
    dups["email_variant"] = 1
    dups["signup"] = dup_signup[has_dup]
    dups["updated"] = dup_signup[has_dup]
    dups["channel"] = CHANNELS.index("organic")
    dups["referrer"] = 0
    frame = pd.concat([base, dups], ignore_index=True)
    copies = d.duplicate_rows(rng, np.ones(len(frame), bool), "exact_duplicate_crm_customers")
    counts["exact_duplicate_crm_customers"] += int((copies - 1).sum())
    return frame.loc[frame.index.repeat(copies)].reset_index(drop=True), dup_number, dup_signup


def build_transactions(customers: Customers, period: Period, fx: FxRates, chunk_no: int,
                       dup_number: np.ndarray, dup_signup: np.ndarray,
                       rng: np.random.Generator, counts: Counter
                       ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Sales and refunds with their defects; also returns the sales (for surveys).

    The last value is each customer's lifetime end (for exit surveys and closures).
    """
    orders, life_end = simulate_orders(period, customers, rng)
    owner, at = orders.customer, orders.at
    n_sales = len(owner)
    currency = CURRENCY_OF_COUNTRY[customers.country[owner]]
    usd = customers.basket_usd[owner] * rng.lognormal(0.0, 0.45, n_sales)
    cents = convert_usd(fx, usd, currency, at)
    items = 1 + rng.poisson(usd / 40.0)
    cancelled = rng.random(n_sales) < 0.03
    is_store_customer = customers.channel[owner] == STORE
    in_store = rng.random(n_sales) < np.where(is_store_customer, 0.7, 0.08)
    sales_channel = np.where(in_store, 2, np.where(rng.random(n_sales) < 0.6, 0, 1))
    store = np.where(in_store, customers.country[owner] * 10 + rng.integers(0, 10, n_sales), -1)
    order_no = chunk_no * ID_SPACE + 1 + np.arange(n_sales)
    # Re-registered persons buy under their new id about half the time.
    uses_dup = (dup_number[owner] > 0) & (at >= dup_signup[owner]) & (rng.random(n_sales) < .5)
    customer_no = np.where(uses_dup, dup_number[owner], customers.number[owner])

    refunded = ~cancelled & (rng.random(n_sales) < 0.06)
    refund_at = at + (rng.uniform(2, 30, n_sales) * DAY).astype(np.int64)
    refunded &= refund_at <= period.end
    full = rng.random(n_sales) < 0.55
    refund_cents = np.where(full, cents, np.maximum(
        np.round(cents * rng.uniform(0.2, 0.9, n_sales)), 1)).astype(np.int64)

    sales = pd.DataFrame({
        "order_no": order_no, "customer_no": customer_no, "type": 0, "at": at,
        "offset_min": _offset(customers, owner), "cents": cents, "currency": currency,
        "status": cancelled.astype(np.int8), "sales_channel": sales_channel, "store": store,
        "items": items, "defect": np.zeros(n_sales, np.int8), "blank": 0,
        "order_cents": cents,
    })
    r = np.flatnonzero(refunded)
    refunds = pd.DataFrame({
        "order_no": order_no[r], "customer_no": customer_no[r], "type": 1, "at": refund_at[r],
        "offset_min": _offset(customers, owner[r]), "cents": refund_cents[r],
        "currency": currency[r], "status": 0, "sales_channel": sales_channel[r],
        "store": store[r], "items": np.where(full[r], items[r], 1),
        "defect": np.zeros(len(r), np.int8), "blank": 0, "order_cents": cents[r],
    })
    extra = _unknown_rows(customers, period, chunk_no, n_sales, len(r), rng, counts)
    frame = pd.concat([sales, refunds, extra], ignore_index=True)
    _transaction_defects(frame, n_sales, refunded, rng, counts)
    frame["transaction_no"] = chunk_no * ID_SPACE + 1 + np.arange(len(frame))
    frame = frame.sort_values(["at", "transaction_no"], kind="stable", ignore_index=True)
    clean = frame["defect"].to_numpy() == 0
    copies = d.duplicate_rows(rng, clean, "exact_duplicate_transactions")
    counts["exact_duplicate_transactions"] += int((copies - 1).sum())
    frame = frame.loc[frame.index.repeat(copies)].reset_index(drop=True)
    sold = pd.DataFrame({"owner": owner, "at": at, "completed": ~cancelled})
    return frame, sold, life_end


def _unknown_rows(customers: Customers, period: Period, chunk_no: int, n_sales: int,
                  n_refunds: int, rng: np.random.Generator, counts: Counter) -> pd.DataFrame:
    """Extra sales by unknown customers and refunds of unknown orders."""
    n_cust = int(rng.binomial(n_sales, d.rate("unknown_customer")))
    n_order = int(rng.binomial(max(n_refunds, 0), d.rate("unknown_order")))
    counts["unknown_customer"] += n_cust
    counts["unknown_order"] += n_order
    who = rng.integers(0, len(customers.number), n_order)
    start = np.maximum(customers.signup[who], period.start)
    refund_at = start + (rng.random(n_order) * (period.end - start)).astype(np.int64)
    n = n_cust + n_order
    return pd.DataFrame({
        "order_no": np.concatenate([
            chunk_no * ID_SPACE + ID_SPACE // 2 + np.arange(n_cust),
            9_000_000_000 + chunk_no * ID_SPACE + np.arange(n_order)]),
        "customer_no": np.concatenate([
            UNKNOWN_CUSTOMER_BASE + rng.integers(0, 9_999_999, n_cust),
            customers.number[who]]),
        "type": np.concatenate([np.zeros(n_cust, np.int64), np.ones(n_order, np.int64)]),
        "at": np.concatenate([
            period.start + (rng.random(n_cust) * (period.end - period.start)).astype(np.int64),
            refund_at]),
        "offset_min": 0,
        "cents": rng.integers(500, 20_000, n),
        "currency": CURRENCIES.index("USD"),
        "status": 0,
        "sales_channel": 0,
        "store": -1,
        "items": 1,
        "defect": np.concatenate([np.full(n_cust, T_UNKNOWN_CUSTOMER, np.int8),
                                  np.full(n_order, T_UNKNOWN_ORDER, np.int8)]),
        "blank": 0,
        "order_cents": 0,
    })


def _transaction_defects(frame: pd.DataFrame, n_sales: int, refunded: np.ndarray,
                         rng: np.random.Generator, counts: Counter) -> None:
    """Draw the row defects of sales and refunds in place."""
    n = len(frame)
    kind = frame["defect"].to_numpy().copy()
    is_sale = np.zeros(n, bool)
    is_sale[:n_sales] = True
    is_refund = np.zeros(n, bool)
    is_refund[n_sales:n_sales + int(refunded.sum())] = True
    safe_sale = is_sale.copy()
    safe_sale[:n_sales] &= ~refunded
    rejectable = safe_sale | is_refund
    at = frame["at"].to_numpy()
    before_chf = at < (CHF_FIRST_RATE_EPOCH - DAY)
    chosen = {
        "refund_exceeds_order": d.assign(rng, kind, is_refund, "refund_exceeds_order",
                                         T_REFUND_EXCEEDS),
        "negative_amount": d.assign(rng, kind, safe_sale, "negative_amount", T_NEGATIVE),
        "unknown_currency": d.assign(rng, kind, safe_sale, "unknown_currency",
                                     T_UNKNOWN_CURRENCY),
        "missing_fx_rate": d.assign(rng, kind, safe_sale & before_chf, "missing_fx_rate",
                                    T_MISSING_FX),
        "missing_required_field_transactions": d.assign(
            rng, kind, rejectable, "missing_required_field_transactions", T_MISSING_FIELD),
        "unparseable_date": d.assign(rng, kind, rejectable, "unparseable_date", T_UNPARSEABLE),
        "second_date_format": d.assign(rng, kind, is_sale | is_refund, "second_date_format",
                                       T_SECOND_FORMAT),
        "missing_offset": d.assign(rng, kind, is_sale | is_refund, "missing_offset",
                                   T_NO_OFFSET),
    }
    for name, mask in chosen.items():
        counts[name] += int(mask.sum())
    cents = frame["cents"].to_numpy().copy()
    cents[chosen["negative_amount"]] *= -1
    exceed = chosen["refund_exceeds_order"]
    cents[exceed] = frame["order_cents"].to_numpy()[exceed] * 3 // 2 + 100
    currency = frame["currency"].to_numpy().copy()
    currency[chosen["unknown_currency"]] = ZZZ
    currency[chosen["missing_fx_rate"]] = CURRENCIES.index("CHF")
    blank = frame["blank"].to_numpy().copy()
    missing = chosen["missing_required_field_transactions"]
    blank[missing] = rng.integers(1, 5, int(missing.sum()))  # which field is blank
    frame["cents"], frame["currency"], frame["blank"], frame["defect"] = (
        cents, currency, blank, kind)


CHF_FIRST_RATE_EPOCH = epoch(CHF_FIRST_RATE)


def build_surveys(customers: Customers, sold: pd.DataFrame, life_end: np.ndarray,
                  period: Period, chunk_no: int, rng: np.random.Generator,
                  counts: Counter) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Invitations after some purchases and after a lapse; answers with scores and reasons."""
    completed = sold[sold["completed"]]
    pick = rng.random(len(completed)) < 0.1
    owner = completed["owner"].to_numpy()[pick]
    sent = completed["at"].to_numpy()[pick] + (rng.uniform(2.5, 4.0, len(owner)) * DAY).astype(
        np.int64)
    survey = rng.choice(3, len(owner), p=[0.45, 0.35, 0.2])
    last = completed.groupby("owner")["at"].max()
    lapsed_owner = last.index.to_numpy()
    exit_sent = last.to_numpy() + (rng.uniform(185, 200, len(last)) * DAY).astype(np.int64)
    owner = np.concatenate([owner, lapsed_owner])
    sent = np.concatenate([sent, exit_sent])
    survey = np.concatenate([survey, np.full(len(lapsed_owner), 3)])
    keep = sent <= period.end
    owner, sent, survey = owner[keep], sent[keep], survey[keep]
    n = len(owner)
    invitation_no = chunk_no * ID_SPACE + 1 + np.arange(n)
    response_at = sent + (rng.exponential(1.5, n) * DAY).astype(np.int64) + 600
    answered = (rng.random(n) < np.where(survey == 3, 0.25, 0.35)) & (response_at <= period.end)
    kind = np.zeros(n, np.int8)
    missing = d.assign(rng, kind, ~answered, "missing_required_field_survey_invitations", 1)
    counts["missing_required_field_survey_invitations"] += int(missing.sum())
    invitations = pd.DataFrame({
        "invitation_no": invitation_no, "customer_no": customers.number[owner],
        "survey": survey, "at": sent, "offset_min": _offset(customers, owner),
        "blank": np.where(missing, rng.integers(1, 3, n), 0),
    })
    a = np.flatnonzero(answered)
    s = customers.satisfaction[owner[a]]
    noise = rng.standard_normal(len(a))
    typ = survey[a]
    score = np.select(
        [typ == 0, typ == 1, typ == 2],
        [np.clip(np.round(7.4 + 2.0 * s + 1.3 * noise), 0, 10),
         np.clip(np.round(3.9 + 0.8 * s + 0.7 * noise), 1, 5),
         np.clip(np.round(5.0 + 1.0 * s + 1.0 * noise), 1, 7)],
        default=-99).astype(np.int64)
    bad = np.zeros(len(a), np.int8)
    out_of_range = d.assign(rng, bad, typ != 3, "score_out_of_range", 1)
    counts["score_out_of_range"] += int(out_of_range.sum())
    score[out_of_range] = np.array([11, 6, 8])[typ[out_of_range]]
    reason_share = EXIT_REASON_WEIGHTS / EXIT_REASON_WEIGHTS.sum()
    reason = rng.choice(len(EXIT_REASONS), len(a), p=reason_share)
    reason = np.where((typ == 3) & (rng.random(len(a)) >= 0.05), reason, -1)
    comment = np.where(rng.random(len(a)) < 0.3, rng.integers(0, 10, len(a)), -1)
    responses = pd.DataFrame({
        "response_no": invitation_no[a], "invitation_no": invitation_no[a],
        "score": score, "comment": comment, "reason": reason, "at": response_at[a],
        "offset_min": _offset(customers, owner[a]),
    })
    n_unknown = int(rng.binomial(len(a), d.rate("unknown_invitation")))
    counts["unknown_invitation"] += n_unknown
    unknown = pd.DataFrame({
        "response_no": chunk_no * ID_SPACE + ID_SPACE // 2 + np.arange(n_unknown),
        "invitation_no": 900_000_000 + rng.integers(0, 99_999_999, n_unknown),
        "score": 7, "comment": -1, "reason": -1,
        "at": period.start + (rng.random(n_unknown) * (period.end - period.start)).astype(
            np.int64),
        "offset_min": 0,
    })
    responses = pd.concat([responses, unknown], ignore_index=True)
    clean = np.concatenate([bad == 0, np.zeros(n_unknown, bool)])
    copies = d.duplicate_rows(rng, clean, "exact_duplicate_survey_responses")
    counts["exact_duplicate_survey_responses"] += int((copies - 1).sum())
    responses = responses.loc[responses.index.repeat(copies)].reset_index(drop=True)
    return invitations, responses


def build_events(customers: Customers, life_end: np.ndarray, period: Period, chunk_no: int,
                 rng: np.random.Generator) -> pd.DataFrame:
    """Closures after a lapse and the occasional erasure request."""
    n = len(customers.number)
    closure_at = life_end + (rng.uniform(30, 120, n) * DAY).astype(np.int64)
    closes = (rng.random(n) < 0.08) & (closure_at <= period.end) & (closure_at > customers.signup)
    erasure_at = customers.signup + (rng.random(n) * (period.end - customers.signup)).astype(
        np.int64)
    erases = rng.random(n) < 0.006
    who = np.concatenate([np.flatnonzero(closes), np.flatnonzero(erases)])
    at = np.concatenate([closure_at[closes], erasure_at[erases]])
    event = np.concatenate([np.zeros(int(closes.sum()), np.int8), np.ones(int(erases.sum()),
                                                                          np.int8)])
    return pd.DataFrame({
        "event_no": chunk_no * 1_000_000 + 1 + np.arange(len(who)),
        "customer_no": customers.number[who], "event": event, "at": at,
        "offset_min": COUNTRY_OFFSET_MIN[customers.country[who]],
    })


def build_chunk(period: Period, fx: FxRates, seed: int, chunk_no: int, numbers: np.ndarray,
                total: int) -> Chunk:
    """Every raw table's rows for customers ``numbers`` (1-based) of ``total``."""
    rng = np.random.default_rng([seed, chunk_no])
    counts: Counter = Counter()
    customers = simulate_customers(period, numbers, total, d.rate("test_account"), rng)
    crm, dup_number, dup_signup = build_customers(customers, period, rng, counts)
    transactions, sold, life_end = build_transactions(
        customers, period, fx, chunk_no, dup_number, dup_signup, rng, counts)
    invitations, responses = build_surveys(customers, sold, life_end, period, chunk_no, rng,
                                           counts)
    events = build_events(customers, life_end, period, chunk_no, rng)
    month = np.searchsorted(period.months, customers.signup, side="right") - 1
    signups = pd.DataFrame({"month": month, "country": customers.country,
                            "channel": customers.channel})
    return Chunk(
        tables={
            "crm_customers": crm,
            "crm_account_events": events,
            "transactions": transactions,
            "survey_invitations": invitations,
            "survey_responses": responses,
        },
        defects=counts,
        signups=signups,
    )
