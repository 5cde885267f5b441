"""The staging rules in Python: which raw rows are clean, and what they say.

Written from docs/raw_data_contract.md and docs/metric_decisions.md (test accounts,
duplicate persons merged by e-mail, the most recently landed copy of a transaction
wins, refunds linked to their sale and capped by it, FX carried forward, one response
per invitation, ...). A rejected row is simply not returned: the oracle recomputes
metrics, the quarantine is checked by its own reconciliation tests.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from retention_warehouse.oracle.calendar import month_index, month_start
from retention_warehouse.oracle.inputs import (
    EVENT_TYPES,
    REPORTING_CURRENCY,
    SCORE_RANGES,
    SURVEY_TYPES,
    UNKNOWN_SEGMENT,
    RawRow,
    Seeds,
    is_blank,
    missing_required,
)
from retention_warehouse.oracle.parsing import (
    COUNT_PATTERN,
    INTEGER_PATTERN,
    normalize_email,
    parse_boolean,
    parse_iso_date,
    parse_money,
    parse_timestamp_utc,
    round_money,
    round_rate,
)


@dataclass(frozen=True)
class Person:
    """A surviving (deduplicated, non-test) CRM person."""

    customer_id: str
    email: str | None
    signup_at: datetime
    country_code: str
    region: str
    acquisition_channel: str


@dataclass
class Crm:
    """Clean CRM persons and the id resolution (duplicate ids → survivor)."""

    persons: dict[str, Person]
    survivor_of: dict[str, str]
    test_ids: set[str]

    def resolve(self, customer_id: str) -> str | None:
        """The survivor id of a raw customer_id; None for unknown or test accounts."""
        return self.survivor_of.get(customer_id.strip())


def derive_crm(transactions: Iterable[RawRow]) -> Crm:
    """Without a CRM export: one person per customer id with a sale, signed up at the
    earliest sale whose timestamp parses; region and channel unknown."""
    first: dict[str, datetime] = {}
    for row in transactions:
        customer = row["customer_id"].strip()
        kind = row["transaction_type"].strip().lower() or "sale"
        at = parse_timestamp_utc(row["transaction_at"])
        if customer and kind == "sale" and at is not None:
            first[customer] = min(first.get(customer, at), at)
    persons = {cid: Person(cid, None, at, "", UNKNOWN_SEGMENT, UNKNOWN_SEGMENT)
               for cid, at in first.items()}
    return Crm(persons=persons, survivor_of={cid: cid for cid in persons}, test_ids=set())


def stage_crm(rows: Iterable[RawRow | dict[str, str]], seeds: Seeds) -> Crm:
    """Reject invalid rows, drop test accounts, merge duplicate persons by e-mail."""
    epoch = datetime(1, 1, 1, tzinfo=UTC)
    by_id: dict[str, tuple[tuple, dict[str, str]]] = {}
    for item in rows:
        row = item.values if isinstance(item, RawRow) else item
        sequence = item.landing_sequence if isinstance(item, RawRow) else 0
        if missing_required("crm_customers", row, None):
            continue
        signup = parse_timestamp_utc(row["signup_at"])
        updated = parse_timestamp_utc(row["updated_at"])
        if signup is None or (not is_blank(row["updated_at"]) and updated is None):
            continue
        if any(not is_blank(row[c]) and parse_boolean(row[c]) is None
               for c in ("marketing_consent", "is_test_account")):
            continue
        # Same customer_id twice with different content: the latest update wins, then the
        # copy from the most recently landed file, then the earliest signup, the e-mail.
        email = normalize_email(row["email"])
        rank = (updated is not None, updated or epoch, sequence,
                -signup.timestamp(), email is not None, _Desc(email or ""))
        cid = row["customer_id"].strip()
        if cid not in by_id or rank > by_id[cid][0]:
            by_id[cid] = (rank, row)

    test_ids: set[str] = set()
    groups: dict[tuple[str, str], list[tuple[datetime, str, dict[str, str]]]] = defaultdict(list)
    for cid, (_, row) in by_id.items():
        email = normalize_email(row["email"])
        is_test = parse_boolean(row["is_test_account"]) is True or (
            email is not None and email.endswith("@example.com"))
        if is_test:
            test_ids.add(cid)
            continue
        signup = parse_timestamp_utc(row["signup_at"])
        assert signup is not None
        # A person without an e-mail is matched by id only.
        groups[("email", email) if email else ("id", cid)].append((signup, cid, row))

    persons: dict[str, Person] = {}
    survivor_of: dict[str, str] = {}
    for members in groups.values():
        members.sort(key=lambda m: (m[0], m[1]))
        signup, survivor, row = members[0]
        country = row["country_code"].strip().upper()
        persons[survivor] = Person(
            customer_id=survivor,
            email=normalize_email(row["email"]),
            signup_at=signup,
            country_code=country,
            region=seeds.region_of_country.get(country, UNKNOWN_SEGMENT),
            acquisition_channel=row["acquisition_channel"].strip().lower() or UNKNOWN_SEGMENT,
        )
        for _, cid, _ in members:
            survivor_of[cid] = survivor
    return Crm(persons=persons, survivor_of=survivor_of, test_ids=test_ids)


@dataclass(frozen=True)
class _Desc:
    """Reverses the order of a string inside a sort key (for 'ascending wins')."""

    text: str

    def __lt__(self, other: _Desc) -> bool:
        return self.text > other.text

    def __gt__(self, other: _Desc) -> bool:
        return self.text < other.text


@dataclass(frozen=True)
class Txn:
    """A clean ledger row (customer re-keyed to the survivor)."""

    transaction_id: str
    order_id: str
    customer_id: str
    transaction_type: str
    at: datetime
    amount: Decimal
    currency: str
    status: str

    @property
    def on(self) -> date:
        """UTC date."""
        return self.at.date()


def stage_transactions(
    rows: Iterable[RawRow | dict[str, str]], crm: Crm, seeds: Seeds,
    default_currency: str | None = None,
) -> tuple[list[Txn], list[Txn]]:
    """Return (clean sales, clean refunds) after every rejection rule of the contract."""
    candidates: list[tuple[tuple, Txn]] = []
    for item in rows:
        row = item.values if isinstance(item, RawRow) else item
        sequence = item.landing_sequence if isinstance(item, RawRow) else 0
        landed_on = item.landed_on if isinstance(item, RawRow) else date.max
        if missing_required("transactions", row, default_currency):
            continue
        at = parse_timestamp_utc(row["transaction_at"])
        if at is None:
            continue
        ttype = row["transaction_type"].strip().lower() or "sale"
        status = row["status"].strip().lower() or "completed"
        status = "cancelled" if status == "canceled" else status
        currency = row["currency_code"].strip().upper() or (default_currency or "").upper()
        amount = parse_money(row["amount"], seeds.money_decimals(currency))
        items = row["items_count"].strip()
        if ttype not in ("sale", "refund") or status not in ("completed", "cancelled"):
            continue
        if amount is None or (items and not COUNT_PATTERN.match(items)):
            continue
        if at.date() > landed_on:  # future_dated: after the day its file landed
            continue
        if amount <= 0:
            continue
        if not seeds.is_known(currency) or seeds.fx_rate(currency, at.date()) is None:
            continue
        customer = crm.resolve(row["customer_id"])
        if customer is None:
            continue
        order = row["order_id"].strip()
        given = row["transaction_id"].strip()
        tid = given or (f"{order}#refund#{row['transaction_at'].strip()}" if ttype == "refund"
                        else f"{order}#{ttype}")
        txn = Txn(transaction_id=tid, order_id=order, customer_id=customer,
                  transaction_type=ttype, at=at, amount=amount, currency=currency,
                  status=status)
        # One row per transaction_id: the most recently landed copy wins (superseded
        # otherwise), then the earliest timestamp (two versions in one file: duplicate).
        candidates.append(((-sequence, at, order, row["amount"].strip()), txn))
    by_id: dict[str, tuple[tuple, Txn]] = {}
    for rank, txn in candidates:
        if txn.transaction_id not in by_id or rank < by_id[txn.transaction_id][0]:
            by_id[txn.transaction_id] = (rank, txn)
    typed = [txn for _, txn in by_id.values()]

    sales: dict[str, Txn] = {}
    for txn in sorted(
        (t for t in typed if t.transaction_type == "sale"),
        key=lambda t: (t.at, t.transaction_id),
    ):
        sales.setdefault(txn.order_id, txn)  # a second sale of the order is rejected

    refunds: list[Txn] = []
    for txn in typed:
        if txn.transaction_type != "refund":
            continue
        sale = sales.get(txn.order_id)
        if sale is None or sale.status == "cancelled" or sale.currency != txn.currency:
            continue
        refunds.append(txn)
    refunds.sort(key=lambda t: (t.at, t.transaction_id))
    cumulative: dict[str, Decimal] = defaultdict(Decimal)
    clean_refunds: list[Txn] = []
    for txn in refunds:
        # window sum over every refund that passed the checks above
        cumulative[txn.order_id] += txn.amount
        if cumulative[txn.order_id] <= sales[txn.order_id].amount:
            clean_refunds.append(txn)
    return list(sales.values()), clean_refunds


@dataclass(frozen=True)
class Invitation:
    """A clean survey invitation."""

    invitation_id: str
    customer_id: str
    survey_type: str
    sent_at: datetime


@dataclass(frozen=True)
class Response:
    """A clean survey response (the surviving one of its invitation)."""

    response_id: str
    invitation: Invitation
    score: int | None
    exit_reason_code: str
    responded_at: datetime


def row_values(item: RawRow | dict[str, str]) -> dict[str, str]:
    return item.values if isinstance(item, RawRow) else item


def stage_invitations(rows: Iterable[RawRow | dict[str, str]], crm: Crm
                      ) -> dict[str, Invitation]:
    """Clean invitations by id (a repeated id keeps its earliest sent_at)."""
    result: dict[str, Invitation] = {}
    for item in rows:
        row = row_values(item)
        if missing_required("survey_invitations", row, None):
            continue
        sent = parse_timestamp_utc(row["sent_at"])
        stype = row["survey_type"].strip().lower()
        customer = crm.resolve(row["customer_id"])
        if sent is None or stype not in SURVEY_TYPES or customer is None:
            continue
        inv = Invitation(row["invitation_id"].strip(), customer, stype, sent)
        current = result.get(inv.invitation_id)
        if current is None or (inv.sent_at, inv.survey_type) < (
            current.sent_at,
            current.survey_type,
        ):
            result[inv.invitation_id] = inv
    return result


def stage_responses(
    rows: Iterable[RawRow | dict[str, str]], invitations: dict[str, Invitation], seeds: Seeds
) -> list[Response]:
    """Clean responses: one per invitation (earliest), integer score in range, known reason."""
    parsed: list[tuple[datetime, str, dict[str, str], Invitation]] = []
    for item in rows:
        row = row_values(item)
        if missing_required("survey_responses", row, None):
            continue
        at = parse_timestamp_utc(row["responded_at"])
        inv = invitations.get(row["invitation_id"].strip())
        if at is None or inv is None:
            continue
        parsed.append((at, row["response_id"].strip(), row, inv))
    parsed.sort(key=lambda p: (p[0], p[1]))
    first: dict[str, tuple[datetime, str, dict[str, str], Invitation]] = {}
    for item in parsed:
        first.setdefault(item[3].invitation_id, item)

    result: list[Response] = []
    for at, response_id, row, inv in first.values():
        raw_score = row["score"].strip()
        score: int | None
        if raw_score and not INTEGER_PATTERN.match(raw_score):
            continue  # 8.6 or 1e1: invalid, never rounded
        if inv.survey_type == "exit":
            if raw_score != "":
                continue
            score = None
        else:
            if raw_score == "":
                continue
            score = int(raw_score)
            low, high = SCORE_RANGES[inv.survey_type]
            if not low <= score <= high:
                continue
        reason = row["exit_reason_code"].strip().lower()
        if reason and reason not in seeds.reason_category:
            continue
        result.append(Response(response_id, inv, score, reason, at))
    return result


def stage_events(rows: Iterable[RawRow | dict[str, str]], crm: Crm) -> list[tuple[str, date]]:
    """Clean closure / erasure events as (survivor customer id, UTC date)."""
    result: list[tuple[str, date]] = []
    for item in rows:
        row = row_values(item)
        if missing_required("crm_account_events", row, None):
            continue
        at = parse_timestamp_utc(row["event_at"])
        customer = crm.resolve(row["customer_id"])
        if at is None or customer is None:
            continue
        if row["event_type"].strip().lower() not in EVENT_TYPES:
            continue
        result.append((customer, at.date()))
    return result


def monthly_mean_rate(seeds: Seeds, currency: str, month: int) -> Decimal | None:
    """Mean of the month's daily (8-decimal, carried-forward) rates, rounded to 8 decimals;
    1 for the reporting currency; None when no day of the month has a rate."""
    if currency == REPORTING_CURRENCY:
        return Decimal(1)
    rates = []
    day = month_start(month)
    while month_index(day) == month:
        rate = seeds.fx_rate(currency, day)
        if rate is not None:
            rates.append(rate)
        day += timedelta(days=1)
    if not rates:
        return None
    return round_rate(sum(rates, Decimal(0)) / len(rates))


def stage_spend(rows: Iterable[RawRow | dict[str, str]], seeds: Seeds
                ) -> dict[tuple[int, str], Decimal]:
    """Spend in reporting currency per (month index, channel), summed over countries.

    A second row of the same month, country and channel is a duplicate: the first by
    (source file, currency, amount) counts.
    """
    kept: dict[tuple[int, str, str], tuple[tuple, Decimal]] = {}
    for item in rows:
        row = row_values(item)
        if missing_required("marketing_spend", row, None):
            continue
        on = parse_iso_date(row["spend_month"])
        currency = row["currency_code"].strip().upper()
        amount = parse_money(row["spend_amount"], seeds.money_decimals(currency))
        if on is None or on.day != 1 or amount is None or amount < 0:
            continue
        if not seeds.is_known(currency):
            continue
        month = month_index(on)
        rate = monthly_mean_rate(seeds, currency, month)
        if rate is None:
            continue
        channel = row["acquisition_channel"].strip().lower()
        key = (month, row["country_code"].strip().upper(), channel)
        source = item.source_file if isinstance(item, RawRow) else ""
        rank = (source, currency, amount)
        if key not in kept or rank < kept[key][0]:
            kept[key] = (rank, round_money(amount * rate))
    result: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for (month, _, channel), (_, value) in kept.items():
        result[(month, channel)] += value
    return dict(result)

