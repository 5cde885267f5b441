"""Independent oracle: the retention marts recomputed from the raw files alone.

This module re-implements the staging rules (raw landing contract) and the metric
definitions (``docs/metrics.md`` and ``docs/metric_decisions.md``) in plain
Python, with no SQL from the dbt project, so that a comparison against the dbt marts
catches a mistake in either.

Money is computed with :class:`decimal.Decimal` (half away from zero rounding, as
the decision log says); rates are returned as ``float``; counts as ``int``; dates as
:class:`datetime.date`; NULL is ``None``.

How to compare it with the dbt marts (``tests/python/test_oracle_matches_marts.py``)::

    from oracle import COMPARE_SPECS, compare_frames, compute_oracle

    expected = compute_oracle(raw_dir, seeds_dir, as_of=None)   # dict of 6 DataFrames
    for table, spec in COMPARE_SPECS.items():
        actual = duckdb_con.sql(f"select * from marts.{table}").df()
        # fct_customer_lifetime_value / fct_customer_tiers expose customer_key (a hash)
        # in the mart: add a customer_id column to ``actual`` first (e.g. by joining
        # dim_customers, or by hashing expected["..."]["customer_id"] the way the
        # project's hash macro does).
        diffs = compare_frames(expected[table], actual, **spec)
        assert not diffs, "\\n".join(diffs)

``compute_oracle`` takes the same ``as_of`` / ``churn_inactivity_days`` /
``at_risk_days`` as the dbt vars (``as_of=None`` = the default as-of date: the latest
UTC date of any clean transaction). Only the calendar-month grain is implemented.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pandas as pd

REPORTING_CURRENCY = "USD"
CENT = Decimal("0.01")
RATE_QUANTUM = Decimal("0.00000001")
DAYS_PER_YEAR = Decimal("365.25")
FX_MAX_CARRY_DAYS = 4

SURVEY_TYPES = ("nps", "csat", "ces", "exit")
SCORE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
EVENT_TYPES = ("closure", "erasure_request")
REASON_CATEGORY_ORDER = (
    "price",
    "product",
    "better_supplier",
    "service_attitude",
    "no_reason",
    "other",
)
NO_ANSWER = "no_answer"
UNKNOWN_SEGMENT = "unknown"

RAW_COLUMNS: dict[str, tuple[str, ...]] = {
    "crm_customers": (
        "customer_id", "email", "phone", "first_name", "last_name", "birth_date",
        "country_code", "preferred_language", "signup_at", "acquisition_channel",
        "referred_by_customer_id", "marketing_consent", "is_test_account", "updated_at",
    ),
    "crm_account_events": ("event_id", "customer_id", "event_type", "event_at"),
    "transactions": (
        "transaction_id", "order_id", "customer_id", "transaction_type", "transaction_at",
        "amount", "currency_code", "status", "sales_channel", "store_id", "items_count",
    ),
    "survey_invitations": ("invitation_id", "customer_id", "survey_type", "sent_at"),
    "survey_responses": (
        "response_id", "invitation_id", "score", "comment", "exit_reason_code", "responded_at",
    ),
    "marketing_spend": (
        "spend_month", "country_code", "acquisition_channel", "currency_code", "spend_amount",
    ),
    "fx_rates": ("rate_date", "currency_code", "usd_per_unit"),
}

# docs/raw_data_contract.md: the columns a row may not leave blank (currency_code only
# while no default currency is given).
REQUIRED: dict[str, tuple[str, ...]] = {
    "crm_customers": ("customer_id", "signup_at"),
    "crm_account_events": ("event_id", "customer_id", "event_type", "event_at"),
    "transactions": ("order_id", "customer_id", "transaction_at", "amount", "currency_code"),
    "survey_invitations": ("invitation_id", "customer_id", "survey_type", "sent_at"),
    "survey_responses": ("response_id", "invitation_id", "responded_at"),
    "marketing_spend": ("spend_month", "acquisition_channel", "currency_code", "spend_amount"),
    "fx_rates": ("rate_date", "currency_code", "usd_per_unit"),
}

# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def round_money(value: Decimal) -> Decimal:
    """Round to cents, half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def round_rate(value: Decimal) -> Decimal:
    """Round an FX rate to 8 decimals, half away from zero."""
    return value.quantize(RATE_QUANTUM, rounding=ROUND_HALF_UP)


def month_index(d: date) -> int:
    """Months since year 0 (a monotone integer per calendar month)."""
    return d.year * 12 + d.month - 1


def month_start(index: int) -> date:
    """First day of the month with the given :func:`month_index`."""
    return date(index // 12, index % 12 + 1, 1)


def month_end(index: int) -> date:
    """Last day of the month with the given :func:`month_index`."""
    return month_start(index + 1) - timedelta(days=1)


# docs/metric_decisions.md, "Raw values": ISO 8601 date and time (T or a space, optional
# seconds and fraction) with an offset (+HH:MM, +HHMM, +HH or Z, optionally after a
# space) or without one (UTC); a date alone (midnight UTC); DD/MM/YYYY HH:MM:SS +HHMM.
_TS_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,9}))?)?"
    r"(?: ?(Z|z|([+-])(0\d|1[0-4])(?::?([0-5]\d))?))?$"
)
_TS_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TS_DMY_OFFSET = re.compile(
    r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{1,2}):(\d{1,2}) ([+-])(\d{2}):?(\d{2})$"
)
_MONEY = re.compile(r"^[+-]?\d{1,16}(\.\d{1,2})?$")
_INTEGER = re.compile(r"^[+-]?\d{1,9}$")
_COUNT = re.compile(r"^\+?\d{1,9}$")
_RATE = re.compile(r"^\+?\d{1,8}(\.\d{1,10})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_TRUE = ("true", "1", "yes", "t", "y")
_FALSE = ("false", "0", "no", "f", "n")


def parse_timestamp_utc(text: str | None) -> datetime | None:
    """Parse a raw timestamp into an aware UTC datetime; None when it is not one.

    Fractions beyond microseconds are cut; an impossible calendar date is None.
    """
    if text is None:
        return None
    value = text.strip()
    try:
        if m := _TS_ISO.match(value):
            y, mo, d, h, mi, s, frac, zone, sign, oh, om = m.groups()
            micros = int((frac or "0")[:6].ljust(6, "0"))
            offset = timedelta(0)
            if zone and zone not in ("Z", "z"):
                offset = timedelta(hours=int(oh), minutes=int(om or 0))
                if sign == "-":
                    offset = -offset
            local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0), micros,
                             tzinfo=timezone(offset))
            return local.astimezone(UTC)
        if m := _TS_DATE.match(value):
            return datetime(*map(int, m.groups()), tzinfo=UTC)
        if m := _TS_DMY_OFFSET.match(value):
            d, mo, y, h, mi, s, sign, oh, om = m.groups()
            if int(h) > 23 or int(mi) > 59 or int(s) > 59:
                return None
            offset = timedelta(hours=int(oh), minutes=int(om))
            if sign == "-":
                offset = -offset
            local = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s),
                             tzinfo=timezone(offset))
            return local.astimezone(UTC)
        return None
    except ValueError:
        return None


def parse_money(text: str, max_decimals: int = 2) -> Decimal | None:
    """Optional sign, digits, at most ``max_decimals`` decimals (never rounded); else None."""
    value = text.strip()
    if not _MONEY.match(value) or len(value.partition(".")[2]) > max_decimals:
        return None
    return Decimal(value)


def parse_decimal(text: str) -> Decimal | None:
    """A money amount with up to 2 decimals (kept for callers of the old name)."""
    return parse_money(text)


def parse_boolean(text: str) -> bool | None:
    """true/1/yes/t/y and false/0/no/f/n in any case; None for anything else."""
    value = text.strip().lower()
    return True if value in _TRUE else False if value in _FALSE else None


def parse_iso_date(text: str) -> date | None:
    """A YYYY-MM-DD date (None when not one, or impossible)."""
    m = _TS_DATE.match(text.strip())
    try:
        return date(*map(int, m.groups())) if m else None
    except ValueError:
        return None


def normalize_email(text: str) -> str | None:
    """NFC, trimmed, lower-cased; None when blank (plus-tags and dots are kept)."""
    value = unicodedata.normalize("NFC", text).strip().lower()
    return value or None


def _blank(value: str | None) -> bool:
    return value is None or value.strip() == ""


def _missing_required(table: str, row: dict[str, str], default_currency: str | None) -> bool:
    columns = [c for c in REQUIRED[table]
               if not (table == "transactions" and c == "currency_code" and default_currency)]
    return any(_blank(row[c]) for c in columns)


# --------------------------------------------------------------------------------------
# Raw and seed loading
# --------------------------------------------------------------------------------------

_KINDS = ((".csv.gz", "csv_gzip"), (".csv", "csv"), (".parquet", "parquet"))
_PYTHON_ENCODINGS = {"utf-8": "utf-8-sig", "utf-16": "utf-16", "windows-1252": "cp1252"}


@dataclass(frozen=True)
class RawRow:
    """A distinct raw row (identical copies collapsed) and where its copies landed."""

    values: dict[str, str]
    source_file: str  # the first file (by path) holding a copy
    landing_sequence: int  # of the latest landed copy
    landed_on: date  # of the latest landed copy
    copies: int

    def __getitem__(self, column: str) -> str:
        return self.values[column]


@dataclass
class Landing:
    """How the raw folder is read: landing order and day of each file, encodings."""

    landed_on: date | None = None  # default landing day of every file (None: today, UTC)
    order: list[str] | None = None  # file paths in landing order (None: mtime, then path)
    landed_on_by_file: dict[str, date] = field(default_factory=dict)
    encodings: dict[str, str] = field(default_factory=dict)  # table -> utf-8|utf-16|windows-1252
    default_currency: str | None = None
    malformed: dict[str, int] = field(default_factory=dict)  # lines skipped, per table

    def files(self, raw_dir: Path, table: str) -> list[Path]:
        """The table's batch files (hidden files skipped)."""
        folder = Path(raw_dir) / table
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir()
                      if not p.name.startswith(".") and _kind(p.name) is not None)

    def sequence(self, raw_dir: Path) -> dict[str, int]:
        """Every batch file's place in the landing order (1, 2, ...)."""
        paths = [str(p) for table in RAW_COLUMNS for p in self.files(raw_dir, table)]
        if self.order is not None:
            ranked = self.order + [p for p in sorted(paths) if p not in self.order]
        else:
            ranked = sorted(paths, key=lambda p: (int(Path(p).stat().st_mtime), p))
        return {path: n for n, path in enumerate(ranked, 1)}

    def day(self, path: str) -> date:
        """The day a file landed."""
        return self.landed_on_by_file.get(path) or self.landed_on or datetime.now(UTC).date()


def _kind(name: str) -> str | None:
    lowered = name.lower()
    return next((kind for end, kind in _KINDS
                 if lowered.endswith(end) and len(lowered) > len(end)), None)


def _file_rows(path: Path, table: str, encoding: str, landing: Landing) -> list[dict[str, str]]:
    """The rows of one batch file as contract columns of text ("" when absent or NULL).

    A CSV line with another number of fields than the header is not a row (malformed);
    blank lines are skipped, as DuckDB skips them.
    """
    columns = RAW_COLUMNS[table]
    if _kind(path.name) == "parquet":
        import duckdb  # only used as a Parquet decoder: every column read as text

        with duckdb.connect() as con:
            names = [row[0] for row in con.execute(
                "describe select * from read_parquet(?)", [str(path)]).fetchall()]
            select = ", ".join(f'cast("{n}" as varchar)' for n in names)
            fetched = con.execute(f"select {select} from read_parquet(?)", [str(path)]).fetchall()
        header = [n.strip().lower() for n in names]
        records = [["" if v is None else v for v in row] for row in fetched]
    else:
        opener = gzip.open if _kind(path.name) == "csv_gzip" else open
        with opener(path, "rt", encoding=_PYTHON_ENCODINGS[encoding], newline="") as handle:
            reader = csv.reader(handle)
            header = [c.strip().lower() for c in next(reader, [])]
            records = []
            for record in reader:
                if not record:
                    continue
                if len(record) != len(header):
                    landing.malformed[table] = landing.malformed.get(table, 0) + 1
                    continue
                records.append(record)
    position = {name: i for i, name in reversed(list(enumerate(header)))}
    return [{c: (record[position[c]] if c in position else "") for c in columns}
            for record in records]


def read_raw_rows(raw_dir: Path, table: str, landing: Landing | None = None) -> list[RawRow]:
    """Union every batch file of ``<raw_dir>/<table>/`` and collapse identical rows."""
    landing = landing or Landing()
    sequence = landing.sequence(raw_dir)
    groups: dict[tuple[str, ...], list[str]] = {}
    first: dict[tuple[str, ...], dict[str, str]] = {}
    for path in landing.files(raw_dir, table):
        encoding = landing.encodings.get(table, "utf-8")
        for values in _file_rows(path, table, encoding, landing):
            key = tuple(values[c] for c in RAW_COLUMNS[table])
            groups.setdefault(key, []).append(str(path))
            first.setdefault(key, values)
    return [RawRow(values=first[key], source_file=min(paths),
                   landing_sequence=max(sequence[p] for p in paths),
                   landed_on=max(landing.day(p) for p in paths), copies=len(paths))
            for key, paths in groups.items()]


def read_raw_table(raw_dir: Path, table: str) -> list[dict[str, str]]:
    """The distinct raw rows of a table as dicts of text (no landing information)."""
    return [row.values for row in read_raw_rows(raw_dir, table)]


@dataclass(frozen=True)
class Seeds:
    """The reference seeds (and supplied FX rates) the oracle needs."""

    usd_per_unit: dict[tuple[str, date], Decimal]  # published rates
    currencies: frozenset[str]
    tiers: tuple[tuple[str, int, Decimal], ...]  # (name, rank, min spend), by rank
    reason_category: dict[str, str]
    reason_categories: tuple[str, ...]
    region_of_country: dict[str, str]
    minor_units: dict[str, int] = field(default_factory=dict)
    max_carry_days: int = FX_MAX_CARRY_DAYS

    def usd_rate(self, currency: str, on: date) -> Decimal | None:
        """US dollars per unit on a day: USD is 1; else the latest published rate at most
        ``max_carry_days`` days before (or on) the day."""
        if currency == "USD":
            return Decimal(1)
        for back in range(self.max_carry_days + 1):
            rate = self.usd_per_unit.get((currency, on - timedelta(days=back)))
            if rate is not None:
                return rate
        return None

    def fx_rate(self, currency: str, on: date) -> Decimal | None:
        """``round8(usd(currency) / usd(reporting))`` on a day, 1 for the reporting currency."""
        if currency == REPORTING_CURRENCY:
            return Decimal(1)
        numerator = self.usd_rate(currency, on)
        denominator = self.usd_rate(REPORTING_CURRENCY, on)
        if numerator is None or denominator is None or denominator == 0:
            return None
        return round_rate(numerator / denominator)

    def is_known(self, currency: str) -> bool:
        """The reporting currency, or a currency with any published rate."""
        return currency == REPORTING_CURRENCY or currency in self.currencies

    def money_decimals(self, currency: str) -> int:
        """Decimals an amount of the currency may carry: its minor units, at most 2."""
        return min(self.minor_units.get(currency, 2), 2)

    def with_supplied_rates(self, rows: Iterable[RawRow]) -> Seeds:
        """Seeds whose rates are extended and overridden by clean supplied fx_rates rows."""
        parsed: dict[tuple[str, date], list[Decimal | None]] = defaultdict(list)
        for row in rows:
            if _missing_required("fx_rates", row.values, None):
                continue
            on = parse_iso_date(row["rate_date"])
            currency = row["currency_code"].strip().upper()
            text = row["usd_per_unit"].strip()
            rate = Decimal(text) if _RATE.match(text) else None
            if on is None:
                continue
            valid = rate is not None and rate > 0 and _CURRENCY.match(currency) is not None
            parsed[(currency, on)].append(rate if valid else None)
        supplied = {key: rates[0] for key, rates in parsed.items()
                    if len(rates) == 1 and rates[0] is not None}
        rates = {k: v for k, v in self.usd_per_unit.items() if k[0] != "USD"}
        rates.update({k: v for k, v in supplied.items() if k[0] != "USD"})
        return replace(self, usd_per_unit=rates,
                       currencies=frozenset(c for c, _ in rates) | {"USD"})


def load_seeds(seeds_dir: Path) -> Seeds:
    """Read fx_rates, loyalty_tiers, exit_reasons, country_regions, currency_minor_units."""
    seeds_dir = Path(seeds_dir)

    def read(name: str) -> list[dict[str, str]]:
        path = seeds_dir / f"{name}.csv"
        if not path.exists():
            return []
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
        return frame.to_dict("records")

    usd: dict[tuple[str, date], Decimal] = {}
    for row in read("fx_rates"):
        currency = row["currency_code"].strip().upper()
        if currency != "USD":  # US dollars per US dollar is 1 by definition
            usd[(currency, date.fromisoformat(row["rate_date"].strip()))] = (
                Decimal(row["usd_per_unit"].strip()))
    tiers = sorted(
        (
            (
                row["tier_name"].strip(),
                int(row["tier_rank"]),
                Decimal(row["min_trailing_12m_spend"].strip()),
            )
            for row in read("loyalty_tiers")
        ),
        key=lambda t: t[1],
    )
    reasons = {
        row["reason_code"].strip(): row["reason_category"].strip() for row in read("exit_reasons")
    }
    seen = list(dict.fromkeys(reasons.values()))
    ordered = [c for c in REASON_CATEGORY_ORDER if c in seen] + [
        c for c in seen if c not in REASON_CATEGORY_ORDER
    ]
    regions = {
        row["country_code"].strip(): row["region"].strip() for row in read("country_regions")
    }
    minor = {row["currency_code"].strip(): int(row["minor_units"])
             for row in read("currency_minor_units")}
    return Seeds(
        usd_per_unit=usd,
        currencies=frozenset(c for c, _ in usd) | {"USD"},
        tiers=tuple(tiers),
        reason_category=reasons,
        reason_categories=tuple(ordered),
        region_of_country=regions,
        minor_units=minor,
    )


# --------------------------------------------------------------------------------------
# Staging
# --------------------------------------------------------------------------------------


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
        if _missing_required("crm_customers", row, None):
            continue
        signup = parse_timestamp_utc(row["signup_at"])
        updated = parse_timestamp_utc(row["updated_at"])
        if signup is None or (not _blank(row["updated_at"]) and updated is None):
            continue
        if any(not _blank(row[c]) and parse_boolean(row[c]) is None
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
        if _missing_required("transactions", row, default_currency):
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
        if amount is None or (items and not _COUNT.match(items)):
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


def _values(item: RawRow | dict[str, str]) -> dict[str, str]:
    return item.values if isinstance(item, RawRow) else item


def stage_invitations(rows: Iterable[RawRow | dict[str, str]], crm: Crm
                      ) -> dict[str, Invitation]:
    """Clean invitations by id (a repeated id keeps its earliest sent_at)."""
    result: dict[str, Invitation] = {}
    for item in rows:
        row = _values(item)
        if _missing_required("survey_invitations", row, None):
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
        row = _values(item)
        if _missing_required("survey_responses", row, None):
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
        if raw_score and not _INTEGER.match(raw_score):
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
        row = _values(item)
        if _missing_required("crm_account_events", row, None):
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
        row = _values(item)
        if _missing_required("marketing_spend", row, None):
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


# --------------------------------------------------------------------------------------
# The customer model
# --------------------------------------------------------------------------------------


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
        """Latest purchase date ≤ t."""
        i = bisect.bisect_right(self.dates, t)
        return self.dates[i - 1] if i else None

    def is_active(self, t: date, churn_days: int) -> bool:
        """Acquired ≤ t, last purchase ≥ t − churn_days, no closure ≤ t."""
        last = self.last_purchase_on_or_before(t)
        if last is None:
            return False
        if self.closure_date is not None and self.closure_date <= t:
            return False
        return (t - last).days <= churn_days


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


def build_model(raw_dir: Path, seeds_dir: Path, as_of: date | None,
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
    if as_of is None:
        all_dates = [t.on for t in sales] + [t.on for t in refunds]
        as_of = max(all_dates) if all_dates else date.today()

    refunded: dict[str, Decimal] = defaultdict(Decimal)
    for txn in refunds:
        if txn.on <= as_of:
            refunded[txn.order_id] += txn.amount
    purchases_by_customer: dict[str, list[Purchase]] = defaultdict(list)
    for sale in sales:
        if sale.on > as_of or sale.status != "completed":
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
    )


# --------------------------------------------------------------------------------------
# Marts
# --------------------------------------------------------------------------------------


def _pct(numerator: int | Decimal, denominator: int | Decimal) -> float | None:
    if not denominator:
        return None
    return float(Decimal(numerator) * 100 / Decimal(denominator))


def _ratio(numerator: int | Decimal, denominator: int | Decimal) -> float | None:
    if not denominator:
        return None
    return float(Decimal(numerator) / Decimal(denominator))


def compute_tiers(model: Model) -> dict[tuple[str, int], dict[str, Any]]:
    """Customer × month rows from the acquisition month to the as-of month."""
    tiers = model.seeds.tiers
    as_of_month = month_index(model.as_of)
    result: dict[tuple[str, int], dict[str, Any]] = {}
    for cid, cust in model.customers.items():
        revenue: dict[int, Decimal] = defaultdict(Decimal)
        for p in cust.purchases:
            revenue[month_index(p.on)] += p.net_revenue
        previous: tuple[str, int] | None = None
        for month in range(month_index(cust.acquisition_date), as_of_month + 1):
            trailing = sum((revenue[j] for j in range(month - 11, month + 1)), Decimal(0))
            level = 0
            for i, (_, _, bound) in enumerate(tiers):
                if bound <= trailing:
                    level = i
            name, rank, _ = tiers[level]
            nxt = tiers[level + 1][2] - trailing if level + 1 < len(tiers) else None
            if previous is None:
                change = "new"
            elif rank > previous[1]:
                change = "upgrade"
            elif rank < previous[1]:
                change = "downgrade"
            else:
                change = "same"
            result[(cid, month)] = {
                "customer_id": cid,
                "month_start": month_start(month),
                "net_revenue_in_month": revenue[month],
                "trailing_12m_net_revenue": trailing,
                "tier_name": name,
                "spend_to_next_tier": nxt,
                "previous_tier_name": previous[0] if previous else None,
                "tier_change": change,
            }
            previous = (name, rank)
    return result


def _people(model: Model) -> list[Person]:
    """CRM persons (deduplicated, no test accounts) signed up on or before the as-of date."""
    return [p for p in model.crm.persons.values() if p.signup_at.date() <= model.as_of]


def _periods(model: Model) -> list[int]:
    """Months from the first acquisition or signup (customers and leads) to the as-of month."""
    starts = [month_index(c.acquisition_date) for c in model.customers.values()]
    starts += [month_index(p.signup_at.date()) for p in _people(model)]
    if not starts:
        return []
    return list(range(min(starts), month_index(model.as_of) + 1))


def _period_bounds(month: int, as_of: date) -> tuple[date, date, bool]:
    """(s, e, is_complete) of a month period (s excluded, e included)."""
    s = month_start(month) - timedelta(days=1)
    end = month_end(month)
    return s, min(end, as_of), end <= as_of


def compute_retention_kpis(
    model: Model, tiers: dict[tuple[str, int], dict[str, Any]], churn_days: int, at_risk_days: int
) -> pd.DataFrame:
    """fct_retention_kpis: one row per month × segment."""
    periods = _periods(model)
    period_set = set(periods)

    def segments(cust: Customer, month: int) -> list[tuple[str, str]]:
        return [
            ("total", "all"),
            ("region", cust.person.region),
            ("acquisition_channel", cust.person.acquisition_channel),
            ("tier", tiers[(cust.customer_id, month)]["tier_name"]),
        ]

    acc: dict[tuple[int, str, str], dict[str, Any]] = {}

    def bucket(key: tuple[int, str, str]) -> dict[str, Any]:
        if key not in acc:
            acc[key] = defaultdict(int)
            acc[key]["net_revenue"] = Decimal(0)
            acc[key]["buyers"] = set()
            acc[key]["intervals"] = []
            acc[key]["scores"] = defaultdict(list)
        return acc[key]

    for month in periods:
        s, e, _ = _period_bounds(month, model.as_of)
        for cust in model.customers.values():
            acq = cust.acquisition_date
            if acq > e:
                continue
            active_s = cust.is_active(s, churn_days)
            active_e = cust.is_active(e, churn_days)
            last_e = cust.last_purchase_on_or_before(e)
            at_risk = active_e and last_e is not None and (e - last_e).days > at_risk_days
            for seg_type, seg_value in segments(cust, month):
                b = bucket((month, seg_type, seg_value))
                b["S"] += active_s
                b["E"] += active_e
                # Acquired in P but closed by e: never active in P, not new
                # (docs/metric_decisions.md: keeps E = S - L + N + R exact).
                is_new = s < acq <= e and not (
                    cust.closure_date is not None and cust.closure_date <= e)
                b["N"] += is_new
                b["R"] += acq <= s and not active_s and active_e
                b["L"] += active_s and not active_e
                b["at_risk"] += at_risk
                b["referred"] += is_new and cust.person.acquisition_channel == "referral"

    for cust in model.customers.values():
        for n, p in enumerate(cust.purchases):
            month = month_index(p.on)
            for seg in segments(cust, month):
                b = bucket((month, *seg))
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
        month = month_index(on)
        for seg in segments(cust, month):
            bucket((month, *seg))["scores"][r.invitation.survey_type].append(r.score)

    # Funnel (docs/metrics.md: leads are counted in funnel columns): per period and per
    # total / region / acquisition channel (leads have no tier), the people who
    # signed up in P and the people signed up by e with no purchase on or before e.
    people = _people(model)
    for month in periods:
        _, e, _ = _period_bounds(month, model.as_of)
        for person in people:
            signup = person.signup_at.date()
            if signup > e:
                continue
            cust = model.customers.get(person.customer_id)
            for seg in (("total", "all"), ("region", person.region),
                        ("acquisition_channel", person.acquisition_channel)):
                b = bucket((month, *seg))
                b["has_funnel"] = True
                b["signups"] += month_index(signup) == month
                b["leads_at_end"] += cust is None or cust.acquisition_date > e

    answered = {r.invitation.invitation_id for r in model.responses}
    for inv in model.invitations:
        cust = model.customers.get(inv.customer_id)
        on = inv.sent_at.date()
        if cust is None or cust.acquisition_date > on:
            continue
        month = month_index(on)
        for seg in segments(cust, month):
            b = bucket((month, *seg))
            b[f"{inv.survey_type}_invitations"] += 1
            b[f"{inv.survey_type}_answered"] += inv.invitation_id in answered

    rows = []
    for (month, seg_type, seg_value), b in acc.items():
        assert month in period_set
        s, e, complete = _period_bounds(month, model.as_of)
        S, E, N, R, L = b["S"], b["E"], b["N"], b["R"], b["L"]
        purchases = b["purchases"]
        buyers = len(b["buyers"])
        nps_scores = b["scores"]["nps"]
        csat_scores = b["scores"]["csat"]
        ces_scores = b["scores"]["ces"]
        row: dict[str, Any] = {
            "period_start": month_start(month),
            "period_end": e,
            "segment_type": seg_type,
            "segment_value": seg_value,
            "customers_at_start": S,
            "customers_at_end": E,
            "new_customers": N,
            "reactivated_customers": R,
            "lost_customers": L,
            "at_risk_customers_at_end": b["at_risk"],
            "customer_retention_rate": _pct(E - N, S),
            "strict_retention_rate": _pct(S - L, S),
            "churn_rate": _pct(L, S),
            "purchases": purchases,
            "purchasing_customers": buyers,
            "net_revenue": b["net_revenue"],
            "average_order_value": b["net_revenue"] / purchases if purchases else None,
            "purchase_frequency": _ratio(purchases, buyers),
            "repeat_purchase_interval_days": _ratio(sum(b["intervals"]), len(b["intervals"])),
            "referred_new_customers": b["referred"],
            "referral_rate": _pct(b["referred"], N),
            "nps_responses": len(nps_scores),
            "nps": _pct(
                sum(1 for x in nps_scores if x >= 9) - sum(1 for x in nps_scores if x <= 6),
                len(nps_scores),
            ),
            "csat_responses": len(csat_scores),
            "csat": _pct(sum(1 for x in csat_scores if x >= 4), len(csat_scores)),
            "ces_responses": len(ces_scores),
            "ces": _ratio(sum(ces_scores), len(ces_scores)),
        }
        for stype in SURVEY_TYPES:
            row[f"{stype}_invitations"] = b[f"{stype}_invitations"]
            row[f"{stype}_response_rate"] = _pct(
                b[f"{stype}_answered"], b[f"{stype}_invitations"]
            )
        row["is_complete_period"] = complete
        row["signups"] = b["signups"] if b["has_funnel"] else None
        row["leads_at_end"] = b["leads_at_end"] if b["has_funnel"] else None
        rows.append(row)
    frame = pd.DataFrame(rows, columns=KPI_COLUMNS, dtype=object)
    return frame.sort_values(["period_start", "segment_type", "segment_value"]).reset_index(
        drop=True
    )


KPI_COLUMNS = [
    "period_start", "period_end", "segment_type", "segment_value",
    "customers_at_start", "customers_at_end", "new_customers", "reactivated_customers",
    "lost_customers", "at_risk_customers_at_end", "customer_retention_rate",
    "strict_retention_rate", "churn_rate", "purchases", "purchasing_customers", "net_revenue",
    "average_order_value", "purchase_frequency", "repeat_purchase_interval_days",
    "referred_new_customers", "referral_rate", "nps_responses", "nps", "csat_responses", "csat",
    "ces_responses", "ces", "nps_invitations", "nps_response_rate", "csat_invitations",
    "csat_response_rate", "ces_invitations", "ces_response_rate", "exit_invitations",
    "exit_response_rate", "is_complete_period", "signups", "leads_at_end",
]


def compute_cohort_retention(model: Model) -> pd.DataFrame:
    """fct_cohort_retention: cohort × period number k from 0 to the as-of period."""
    as_of_month = month_index(model.as_of)
    cohorts: dict[tuple[str, int, str], list[Customer]] = defaultdict(list)
    for cust in model.customers.values():
        acq = month_index(cust.acquisition_date)
        cohorts[("acquisition", acq, "all")].append(cust)
        cohorts[("signup", month_index(cust.person.signup_at.date()), "all")].append(cust)
        cohorts[("acquisition_channel", acq, cust.person.acquisition_channel)].append(cust)

    rows = []
    for (ctype, cmonth, channel), members in cohorts.items():
        size = len(members)
        buy_months = [{month_index(p.on) for p in c.purchases} for c in members]
        last_months = [month_index(c.dates[-1]) for c in members]
        revenue: dict[int, Decimal] = defaultdict(Decimal)
        for c in members:
            for p in c.purchases:
                revenue[month_index(p.on)] += p.net_revenue
        base = revenue[cmonth]
        for k in range(0, as_of_month - cmonth + 1):
            month = cmonth + k
            active = sum(1 for months in buy_months if month in months)
            unbounded = sum(1 for last in last_months if last >= month)
            rows.append(
                {
                    "cohort_type": ctype,
                    "cohort_period_start": month_start(cmonth),
                    "acquisition_channel": channel,
                    "period_number": k,
                    "cohort_size": size,
                    "active_customers": active,
                    "retention_pct": _pct(active, size),
                    "unbounded_retained_customers": unbounded,
                    "unbounded_retention_pct": _pct(unbounded, size),
                    "net_revenue": revenue[month],
                    "revenue_retention_pct": _pct(revenue[month], base),
                }
            )
    columns = [
        "cohort_type", "cohort_period_start", "acquisition_channel", "period_number",
        "cohort_size", "active_customers", "retention_pct", "unbounded_retained_customers",
        "unbounded_retention_pct", "net_revenue", "revenue_retention_pct",
    ]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    return frame.sort_values(columns[:4]).reset_index(drop=True)


def _cac_by_customer(model: Model) -> dict[str, Decimal | None]:
    acquired: dict[tuple[int, str], int] = defaultdict(int)
    for c in model.customers.values():
        acquired[(month_index(c.acquisition_date), c.person.acquisition_channel)] += 1
    result: dict[str, Decimal | None] = {}
    for cid, c in model.customers.items():
        key = (month_index(c.acquisition_date), c.person.acquisition_channel)
        spend = model.spend.get(key)
        result[cid] = None if spend is None else spend / acquired[key]
    return result


def compute_customer_lifetime_value(model: Model) -> pd.DataFrame:
    """fct_customer_lifetime_value: one row per customer."""
    cac = _cac_by_customer(model)
    rows = []
    for cid, c in model.customers.items():
        orders = len(c.purchases)
        net = sum((p.net_revenue for p in c.purchases), Decimal(0))
        tenure = (model.as_of - c.acquisition_date).days + 1
        rows.append(
            {
                "customer_id": cid,
                "acquisition_date": c.acquisition_date,
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
            }
        )
    columns = [
        "customer_id", "acquisition_date", "first_purchase_date", "last_purchase_date",
        "orders", "net_revenue", "average_order_value", "lifespan_days", "tenure_days",
        "purchases_per_year", "cac", "historical_cltv",
    ]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    return frame.sort_values("customer_id").reset_index(drop=True)


def last_complete_month(as_of: date) -> int:
    """Month index of the last complete calendar month on the as-of date."""
    current = month_index(as_of)
    return current if month_end(current) <= as_of else current - 1


def _top_share(ranked: list[Customer], revenue_of: dict[str, Decimal], count: int) -> float | None:
    """Share (%) of the segment's net revenue from its first ``count`` ranked customers."""
    top = sum((revenue_of[c.customer_id] for c in ranked[:count]), Decimal(0))
    return _pct(top, sum(revenue_of.values(), Decimal(0)))


def compute_lifetime_value_segments(model: Model, churn_days: int) -> pd.DataFrame:
    """fct_lifetime_value_segments: total, acquisition cohort, channel and region."""
    cac = _cac_by_customer(model)
    groups: dict[tuple[str, str], list[Customer]] = defaultdict(list)
    for c in model.customers.values():
        groups[("total", "all")].append(c)
        cohort = month_start(month_index(c.acquisition_date)).isoformat()
        groups[("acquisition_cohort", cohort)].append(c)
        groups[("acquisition_channel", c.person.acquisition_channel)].append(c)
        groups[("region", c.person.region)].append(c)

    last_month = last_complete_month(model.as_of)
    window_start = month_end(last_month - 12)
    window_end = month_end(last_month)
    rows = []
    for (seg_type, seg_value), members in groups.items():
        n = len(members)
        purchases = sum(len(c.purchases) for c in members)
        revenue_of = {
            c.customer_id: sum((p.net_revenue for p in c.purchases), Decimal(0)) for c in members
        }
        net = sum(revenue_of.values(), Decimal(0))
        tenure_days = sum((model.as_of - c.acquisition_date).days + 1 for c in members)
        aov = net / purchases
        frequency = Decimal(purchases) * DAYS_PER_YEAR / Decimal(tenure_days)
        start_active = [c for c in members if c.is_active(window_start, churn_days)]
        S = len(start_active)
        L = sum(1 for c in start_active if not c.is_active(window_end, churn_days))
        churn = _pct(L, S)
        known = [cac[c.customer_id] for c in members if cac[c.customer_id] is not None]
        avg_cac = sum(known, Decimal(0)) / len(known) if known else None
        predicted = None
        if churn and avg_cac is not None:
            predicted = aov * frequency * (Decimal(S) / Decimal(L)) - avg_cac
        ranked = sorted(members, key=lambda c: (-revenue_of[c.customer_id], c.customer_id))

        rows.append(
            {
                "segment_type": seg_type,
                "segment_value": seg_value,
                "customers": n,
                "purchases": purchases,
                "net_revenue": net,
                "average_order_value": aov,
                "purchase_frequency_per_year": float(frequency),
                "annual_churn_rate": churn,
                "expected_lifespan_years": _ratio(S, L) if churn else None,
                "average_cac": avg_cac,
                "predicted_cltv": predicted,
                "top_10pct_revenue_share": _top_share(ranked, revenue_of, -(-n // 10)),
                "top_20pct_revenue_share": _top_share(ranked, revenue_of, -(-n // 5)),
            }
        )
    columns = [
        "segment_type", "segment_value", "customers", "purchases", "net_revenue",
        "average_order_value", "purchase_frequency_per_year", "annual_churn_rate",
        "expected_lifespan_years", "average_cac", "predicted_cltv", "top_10pct_revenue_share",
        "top_20pct_revenue_share",
    ]
    frame = pd.DataFrame(rows, columns=columns, dtype=object)
    return frame.sort_values(["segment_type", "segment_value"]).reset_index(drop=True)


def compute_customer_tiers(tiers: dict[tuple[str, int], dict[str, Any]]) -> pd.DataFrame:
    """fct_customer_tiers: one row per customer × month."""
    columns = [
        "customer_id", "month_start", "net_revenue_in_month", "trailing_12m_net_revenue",
        "tier_name", "spend_to_next_tier", "previous_tier_name", "tier_change",
    ]
    frame = pd.DataFrame(list(tiers.values()), columns=columns, dtype=object)
    return frame.sort_values(["customer_id", "month_start"]).reset_index(drop=True)


def compute_churn_reasons(model: Model, churn_days: int) -> pd.DataFrame:
    """fct_churn_reasons: the customers lost in each period by exit-survey reason."""
    exits: dict[str, list[Response]] = defaultdict(list)
    for r in model.responses:
        if r.invitation.survey_type == "exit":
            exits[r.invitation.customer_id].append(r)
    categories = [*model.seeds.reason_categories, NO_ANSWER]
    rows = []
    for month in _periods(model):
        s, e, _ = _period_bounds(month, model.as_of)
        counts: dict[str, int] = defaultdict(int)
        lost = 0
        for c in model.customers.values():
            if not (c.is_active(s, churn_days) and not c.is_active(e, churn_days)):
                continue
            lost += 1
            last = c.last_purchase_on_or_before(e)
            assert last is not None
            eligible = [r for r in exits[c.customer_id] if r.responded_at.date() >= last]
            category = NO_ANSWER
            if eligible:
                latest = max(eligible, key=lambda r: (r.responded_at, r.response_id))
                if latest.exit_reason_code:
                    category = model.seeds.reason_category[latest.exit_reason_code]
            counts[category] += 1
        for category in categories:
            rows.append(
                {
                    "period_start": month_start(month),
                    "reason_category": category,
                    "churned_customers": lost,
                    "customers_in_category": counts[category],
                    "share_of_churned_pct": _pct(counts[category], lost),
                }
            )
    columns = [
        "period_start", "reason_category", "churned_customers", "customers_in_category",
        "share_of_churned_pct",
    ]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def compute_oracle(
    raw_dir: Path,
    seeds_dir: Path,
    as_of: date | None = None,
    churn_inactivity_days: int = 180,
    at_risk_days: int = 90,
    landing: Landing | None = None,
) -> dict[str, pd.DataFrame]:
    """Recompute the six marts from the raw files and seeds.

    Returns a dict keyed by mart name: ``fct_retention_kpis``, ``fct_cohort_retention``,
    ``fct_customer_lifetime_value``, ``fct_lifetime_value_segments``,
    ``fct_customer_tiers``, ``fct_churn_reasons``. Customers are identified by their
    surviving CRM ``customer_id``.
    """
    if churn_inactivity_days < 31:
        raise ValueError(
            f"churn_inactivity_days ({churn_inactivity_days}) must be >= the grain length "
            "(31 days for month)"
        )
    model = build_model(Path(raw_dir), Path(seeds_dir), as_of, landing)
    tiers = compute_tiers(model)
    return {
        "fct_retention_kpis": compute_retention_kpis(
            model, tiers, churn_inactivity_days, at_risk_days
        ),
        "fct_cohort_retention": compute_cohort_retention(model),
        "fct_customer_lifetime_value": compute_customer_lifetime_value(model),
        "fct_lifetime_value_segments": compute_lifetime_value_segments(
            model, churn_inactivity_days
        ),
        "fct_customer_tiers": compute_customer_tiers(tiers),
        "fct_churn_reasons": compute_churn_reasons(model, churn_inactivity_days),
    }


# --------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------

COMPARE_SPECS: dict[str, dict[str, Sequence[str]]] = {
    "fct_retention_kpis": {
        "keys": ["period_start", "segment_type", "segment_value"],
        "money_cols": ["net_revenue", "average_order_value"],
        "rate_cols": [
            "customer_retention_rate", "strict_retention_rate", "churn_rate",
            "purchase_frequency", "repeat_purchase_interval_days", "referral_rate", "nps",
            "csat", "ces", "nps_response_rate", "csat_response_rate", "ces_response_rate",
            "exit_response_rate",
        ],
        "count_cols": [
            "customers_at_start", "customers_at_end", "new_customers", "reactivated_customers",
            "lost_customers", "at_risk_customers_at_end", "purchases", "purchasing_customers",
            "referred_new_customers", "nps_responses", "csat_responses", "ces_responses",
            "nps_invitations", "csat_invitations", "ces_invitations", "exit_invitations",
            "signups", "leads_at_end",
        ],
        "exact_cols": ["is_complete_period"],
    },
    "fct_cohort_retention": {
        "keys": ["cohort_type", "cohort_period_start", "acquisition_channel", "period_number"],
        "money_cols": ["net_revenue"],
        "rate_cols": ["retention_pct", "unbounded_retention_pct", "revenue_retention_pct"],
        "count_cols": ["cohort_size", "active_customers", "unbounded_retained_customers"],
        "exact_cols": [],
    },
    "fct_customer_lifetime_value": {
        "keys": ["customer_id"],
        "money_cols": ["net_revenue", "average_order_value", "cac", "historical_cltv"],
        "rate_cols": ["purchases_per_year"],
        "count_cols": ["orders", "lifespan_days", "tenure_days"],
        "exact_cols": ["acquisition_date", "first_purchase_date", "last_purchase_date"],
    },
    "fct_lifetime_value_segments": {
        "keys": ["segment_type", "segment_value"],
        "money_cols": ["net_revenue", "average_order_value", "average_cac", "predicted_cltv"],
        "rate_cols": [
            "purchase_frequency_per_year", "annual_churn_rate", "expected_lifespan_years",
            "top_10pct_revenue_share", "top_20pct_revenue_share",
        ],
        "count_cols": ["customers", "purchases"],
        "exact_cols": [],
    },
    "fct_customer_tiers": {
        "keys": ["customer_id", "month_start"],
        "money_cols": ["net_revenue_in_month", "trailing_12m_net_revenue", "spend_to_next_tier"],
        "rate_cols": [],
        "count_cols": [],
        "exact_cols": ["tier_name", "previous_tier_name", "tier_change"],
    },
    "fct_churn_reasons": {
        "keys": ["period_start", "reason_category"],
        "money_cols": [],
        "rate_cols": ["share_of_churned_pct"],
        "count_cols": ["churned_customers", "customers_in_category"],
        "exact_cols": [],
    },
}


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (list, tuple, set, dict)):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _norm_text(value: Any) -> str | None:
    """Canonical text of a key or exact value (dates as ISO dates, 2.0 as 2)."""
    if _is_null(value):
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        ts = pd.Timestamp(value)
        if ts.tzinfo is None and ts == ts.normalize():
            return ts.date().isoformat()
        return ts.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    return str(value)


def _to_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if hasattr(value, "item"):
        value = value.item()
    return Decimal(str(value))


def _cell_diff(kind: str, exp: Any, act: Any, rel_tol: float) -> str | None:
    """A description of the difference of two cells, or None when they agree."""
    exp_null, act_null = _is_null(exp), _is_null(act)
    if exp_null or act_null:
        if exp_null and act_null:
            return None
        shown = ["NULL" if null else repr(v) for v, null in ((exp, exp_null), (act, act_null))]
        return f"expected {shown[0]}, got {shown[1]}"
    try:
        if kind == "money":
            if abs(_to_decimal(exp) - _to_decimal(act)) > Decimal("0.005"):
                return f"expected {exp}, got {act}"
            return None
        if kind == "rate":
            if not math.isclose(float(exp), float(act), rel_tol=rel_tol, abs_tol=1e-9):
                return f"expected {float(exp)!r}, got {float(act)!r}"
            return None
        if kind == "count":
            a, b = _to_decimal(exp), _to_decimal(act)
            if a != b or a != a.to_integral_value():
                return f"expected {exp}, got {act}"
            return None
    except (InvalidOperation, TypeError, ValueError):
        return f"expected {exp!r}, got uncomparable {act!r}"
    if _norm_text(exp) != _norm_text(act):
        return f"expected {_norm_text(exp)!r}, got {_norm_text(act)!r}"
    return None


def compare_frames(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    keys: Sequence[str],
    money_cols: Sequence[str] = (),
    rate_cols: Sequence[str] = (),
    count_cols: Sequence[str] = (),
    exact_cols: Sequence[str] = (),
    max_diffs: int = 20,
    rel_tol: float = 1e-9,
) -> list[str]:
    """Human-readable differences between an expected (oracle) and an actual frame.

    Rows are matched on ``keys`` (dates, timestamps and numbers normalised to text).
    ``money_cols`` agree when within half a cent (exact sums that differ by a cent
    fail; a mart that keeps an unrounded average passes); ``rate_cols`` with
    ``rel_tol`` relative (and 1e-9 absolute) tolerance; ``count_cols`` exactly;
    ``exact_cols`` (text, dates, booleans) as normalised text. NULL matches only
    NULL/NaN. Missing columns, duplicate keys and rows missing on either side are
    reported. At most ``max_diffs`` lines plus a summary line are returned.
    """
    diffs: list[str] = []
    kinds = (
        [(c, "money") for c in money_cols]
        + [(c, "rate") for c in rate_cols]
        + [(c, "count") for c in count_cols]
        + [(c, "exact") for c in exact_cols]
    )
    for side, frame in (("expected", expected), ("actual", actual)):
        for column in [*keys, *(c for c, _ in kinds)]:
            if column not in frame.columns:
                diffs.append(f"{side} frame has no column {column!r}")
    if diffs:
        return diffs

    def index(frame: pd.DataFrame, side: str) -> dict[tuple[str | None, ...], dict[str, Any]]:
        result: dict[tuple[str | None, ...], dict[str, Any]] = {}
        for record in frame.to_dict("records"):
            key = tuple(_norm_text(record[k]) for k in keys)
            if key in result:
                diffs.append(f"{side}: duplicate key {dict(zip(keys, key, strict=True))}")
            result[key] = record
        return result

    exp_rows = index(expected, "expected")
    act_rows = index(actual, "actual")
    for key in sorted(set(exp_rows) - set(act_rows), key=str):
        diffs.append(f"missing in actual: {dict(zip(keys, key, strict=True))}")
    for key in sorted(set(act_rows) - set(exp_rows), key=str):
        diffs.append(f"unexpected in actual: {dict(zip(keys, key, strict=True))}")
    for key in sorted(set(exp_rows) & set(act_rows), key=str):
        for column, kind in kinds:
            problem = _cell_diff(kind, exp_rows[key][column], act_rows[key][column], rel_tol)
            if problem:
                diffs.append(f"{dict(zip(keys, key, strict=True))} {column}: {problem}")
    if len(diffs) > max_diffs:
        return [*diffs[:max_diffs], f"... and {len(diffs) - max_diffs} more differences"]
    return diffs
