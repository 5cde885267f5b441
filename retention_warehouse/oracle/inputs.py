"""Where the oracle's data comes from: the raw batch files and the reference seeds.

``read_raw_rows`` unions every batch file of a raw table and collapses identical
rows, as the landing contract says; ``Landing`` says in which order and on which day
the files landed (the build's landing record, ``raw._landed_files``, when the
checkpoint runs; file times otherwise). ``load_seeds`` reads the reference seeds.
Nothing here reads a dbt model.
"""

from __future__ import annotations

import csv
import gzip
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

from retention_warehouse.oracle.parsing import (
    CURRENCY_PATTERN,
    RATE_PATTERN,
    parse_iso_date,
    round_rate,
)

REPORTING_CURRENCY = "USD"
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


def is_blank(value: str | None) -> bool:
    return value is None or value.strip() == ""


def missing_required(table: str, row: dict[str, str], default_currency: str | None) -> bool:
    columns = [c for c in REQUIRED[table]
               if not (table == "transactions" and c == "currency_code" and default_currency)]
    return any(is_blank(row[c]) for c in columns)



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


@dataclass(frozen=True)
class Seeds:
    """The reference seeds (and supplied FX rates) the oracle needs."""

    usd_per_unit: dict[tuple[str, date], Decimal]  # published rates
    currencies: frozenset[str]
    tiers: tuple[tuple[str, int, Decimal], ...]  # (name, rank, min spend), by rank
    reason_category: dict[str, str]
    reason_categories: tuple[str, ...]
    region_of_country: dict[str, str]
    # seed rfm_segments, by rule_order: (rule_order, segment, r_min, r_max, f_min, f_max,
    # m_min, m_max)
    rfm_rules: tuple[tuple[int, str, int, int, int, int, int, int], ...] = ()
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
            if missing_required("fx_rates", row.values, None):
                continue
            on = parse_iso_date(row["rate_date"])
            currency = row["currency_code"].strip().upper()
            text = row["usd_per_unit"].strip()
            rate = Decimal(text) if RATE_PATTERN.match(text) else None
            if on is None:
                continue
            valid = rate is not None and rate > 0 and CURRENCY_PATTERN.match(currency) is not None
            parsed[(currency, on)].append(rate if valid else None)
        supplied = {key: rates[0] for key, rates in parsed.items()
                    if len(rates) == 1 and rates[0] is not None}
        # A seed rate counts only where no supplied rate of the currency can be carried to
        # that day (on it or at most max_carry_days before): a bundled rate never fills a
        # weekend or holiday of the user's series.
        rates = {k: v for k, v in self.usd_per_unit.items() if k[0] != "USD" and not any(
            (k[0], k[1] - timedelta(days=back)) in supplied
            for back in range(self.max_carry_days + 1))}
        rates.update({k: v for k, v in supplied.items() if k[0] != "USD"})
        return replace(self, usd_per_unit=rates,
                       currencies=frozenset(c for c, _ in rates) | {"USD"})


def load_seeds(seeds_dir: Path) -> Seeds:
    """Read fx_rates, loyalty_tiers, exit_reasons, country_regions, rfm_segments and
    currency_minor_units."""
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
    score_columns = ("min_recency_score", "max_recency_score", "min_frequency_score",
                     "max_frequency_score", "min_monetary_score", "max_monetary_score")
    rfm_rules = sorted(
        (int(row["rule_order"]), row["segment_name"].strip(),
         *(int(row[column]) for column in score_columns))
        for row in read("rfm_segments")
    )
    minor = {row["currency_code"].strip(): int(row["minor_units"])
             for row in read("currency_minor_units")}
    return Seeds(
        usd_per_unit=usd,
        currencies=frozenset(c for c, _ in usd) | {"USD"},
        tiers=tuple(tiers),
        reason_category=reasons,
        reason_categories=tuple(ordered),
        region_of_country=regions,
        rfm_rules=tuple(rfm_rules),
        minor_units=minor,
    )



def landing_from_record(records: Iterable[dict[str, object]],
                        default_currency: str | None = None) -> tuple[Path | None, Landing]:
    """The raw folder and the Landing of a build, from its landing record.

    ``records`` are rows of ``raw._landed_files`` (table_name, file_path, encoding,
    landing_batch, file_modified_epoch, landed_on): bookkeeping of which file landed
    when, written before any model runs. The raw folder is the parent of the table
    folders; files are ranked by landing batch, then file time, then path.
    """
    rows = list(records)
    if not rows:
        return None, Landing(default_currency=default_currency)
    ranked = sorted(rows, key=lambda r: (int(r["landing_batch"] or 0),
                                         int(r["file_modified_epoch"] or 0),
                                         str(r["file_path"])))
    folders = {Path(str(r["file_path"])).parent.parent for r in rows}
    raw_dir = min(folders) if folders else None
    encodings = {str(r["table_name"]): str(r["encoding"]) for r in rows
                 if str(r["encoding"]) in _PYTHON_ENCODINGS}  # a Parquet file has none
    return raw_dir, Landing(
        order=[str(r["file_path"]) for r in ranked],
        landed_on_by_file={str(r["file_path"]): _as_date(r["landed_on"]) for r in rows
                           if r["landed_on"] is not None and not pd.isna(r["landed_on"])},
        encodings=encodings,
        default_currency=default_currency,
    )


def _as_date(value: object) -> date:
    """A date read back from DuckDB (a date, or a pandas Timestamp at midnight)."""
    if isinstance(value, datetime):
        return value.date()
    assert isinstance(value, date)
    return value
