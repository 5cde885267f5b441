"""Shared code of the importers: reading an export, the rows they write, the report.

Every importer turns one export file into contract rows (``LedgerRow`` for
``transactions``, ``CustomerRow`` for ``crm_customers``) and an ``ImportReport``;
:func:`write_landing` writes them as a landing folder (docs/raw_data_contract.md)
and the report says what happened to every input row.

Three outcomes for an input row, never a fourth:

* written (possibly as two ledger rows: a sale and its refund);
* skipped *not a sale* (a failed charge, a pending order), counted by reason;
* skipped as an *error* the importer cannot map without guessing (a date not in
  ``--date-format``, order lines that disagree on the customer), counted by reason
  and kept with its line number in ``<out>/_import/<name>.skipped.csv`` (the
  warehouse ignores ``_`` folders). More than ``max_error_share`` of the rows as
  errors fails the import, as the warehouse's quarantine guard would.

Values the warehouse validates (amount grammar, timestamps in the contract's forms,
currency codes) are written as exported, so a bad one is quarantined by staging with
its documented reason instead of being judged twice.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path

from retention_warehouse.pii import HashKeyError, keyed_hash, resolve_hash_key

TRANSACTION_COLUMNS = ("transaction_id", "order_id", "customer_id", "transaction_type",
                       "transaction_at", "amount", "currency_code", "status", "items_count")
CUSTOMER_COLUMNS = ("customer_id", "email", "signup_at", "country_code", "marketing_consent")
SKIPPED_DIR = "_import"
DEFAULT_MAX_ERROR_SHARE = 0.05
ENCODINGS = {"utf-8": "utf-8-sig", "utf8": "utf-8-sig", "windows-1252": "cp1252",
             "cp1252": "cp1252", "latin-1": "cp1252", "latin1": "cp1252",
             "iso-8859-1": "cp1252"}


class ImportFailure(RuntimeError):
    """The export cannot be imported as asked (one clear line, no traceback)."""


@dataclass
class LedgerRow:
    """One ``transactions`` row, all text, in the contract's columns."""

    transaction_id: str
    order_id: str
    customer_id: str
    transaction_type: str
    transaction_at: str
    amount: str
    currency_code: str
    status: str = ""
    items_count: str = ""

    def values(self) -> list[str]:
        """The row in TRANSACTION_COLUMNS order."""
        return [getattr(self, column) for column in TRANSACTION_COLUMNS]


@dataclass
class CustomerRow:
    """What an export says about a customer beyond its id (blank = not in the export)."""

    customer_id: str
    email: str = ""
    country_code: str = ""
    marketing_consent: str = ""


@dataclass
class Record:
    """One input row: its line in the file and its fields by column name."""

    line: int
    fields: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.fields.get(column, "")


@dataclass
class ImportReport:
    """What an import read, wrote and skipped."""

    fmt: str
    source: Path
    rows_in: int = 0
    not_sales: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)  # written, worth saying how
    rows_out: dict[str, int] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    skipped_rows: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)

    def skip(self, record: Record, reason: str) -> None:
        """A row that is not a sale (kept in the skipped file too)."""
        self.not_sales[reason] += 1
        self.skipped_rows.append((record.line, reason, record.fields))

    def error(self, record: Record, reason: str) -> None:
        """A row the importer cannot map without guessing."""
        self.errors[reason] += 1
        self.skipped_rows.append((record.line, reason, record.fields))

    def summary(self) -> str:
        """The lines ``retention import`` prints."""
        lines = [f"import {self.fmt}: {self.source}: {self.rows_in:,} rows in"]
        for table, rows in self.rows_out.items():
            lines.append(f"  wrote {rows:,} {table} rows to {self.paths[table]}")
        for title, counts in (("skipped, not a sale", self.not_sales),
                              ("skipped, cannot be mapped", self.errors),
                              ("written", self.notes)):
            for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
                lines.append(f"  {title}: {reason}: {count:,}")
        if "skipped" in self.paths:
            lines.append(f"  skipped rows with their line numbers: {self.paths['skipped']}")
        return "\n".join(lines)


# --- reading -------------------------------------------------------------------------------

def read_text(path: Path, encoding: str = "utf-8") -> str:
    """The whole file as text (gzip by name); one line naming file and line on a bad byte."""
    codec = ENCODINGS.get(encoding.lower())
    if codec is None:
        raise ImportFailure(f"--encoding {encoding}: use utf-8 or windows-1252 (latin-1).")
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError) as error:
        raise ImportFailure(f"{path}: cannot read it ({error.__class__.__name__}: "
                            f"{getattr(error, 'strerror', None) or error}).") from None
    try:
        return data.decode(codec)
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise ImportFailure(f"{path}, line {line}: byte 0x{data[error.start]:02x} is not valid "
                            f"{encoding}; pass --encoding windows-1252 if the export is in "
                            "that encoding.") from None


def read_records(path: Path, report: ImportReport, delimiter: str = ",",
                 columns: Sequence[str] | None = None, encoding: str = "utf-8",
                 has_header: bool = True) -> tuple[list[str], Iterator[Record]]:
    """The header and the records of a delimited file.

    ``delimiter`` ``whitespace`` splits on runs of spaces and tabs (no quoting).
    ``columns`` names the fields of a file without a header row; ``has_header=False``
    without ``columns`` names them 1, 2, 3, ... by the first row. A line with another
    number of fields than the header is an error row; blank lines are skipped.
    """
    text = read_text(path, encoding)
    if delimiter == "whitespace":
        lines = ((n, line.split()) for n, line in enumerate(text.splitlines(), 1))
    else:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
        lines = _numbered(reader)
    lines = (item for item in lines if item[1] and item[1] != [""])
    first = next(lines, None)
    if first is None:
        raise ImportFailure(f"{path}: the file is empty (no rows).")
    if columns is not None or not has_header:
        header = list(columns) if columns is not None else [
            str(n) for n in range(1, len(first[1]) + 1)]
        lines = itertools.chain([first], lines)
    else:
        header = [name.strip() for name in first[1]]

    def records() -> Iterator[Record]:
        for line, fields in lines:
            report.rows_in += 1
            if len(fields) != len(header):
                report.error(Record(line, dict(enumerate_fields(header, fields))),
                             f"wrong number of fields ({len(fields)}, the header has "
                             f"{len(header)})")
                continue
            yield Record(line, dict(zip(header, fields, strict=True)))

    return header, records()


def enumerate_fields(header: Sequence[str], fields: Sequence[str]) -> Iterator[tuple[str, str]]:
    """Fields by column name, extra fields as ``field_<n>`` (for the skipped file)."""
    for n, value in enumerate(fields):
        yield (header[n] if n < len(header) else f"field_{n + 1}", value)


def _numbered(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    """csv rows with the line they start on."""
    line = 1
    for fields in reader:
        yield line, fields
        line = reader.line_num + 1  # type: ignore[attr-defined]


def require_columns(path: Path, header: Sequence[str], needed: Sequence[str], what: str) -> None:
    """Fail with one line when the header lacks a column the mapping needs."""
    missing = [name for name in needed if name not in header]
    if missing:
        shown = ", ".join(header) or "nothing"
        raise ImportFailure(f"{path}: no column '{missing[0]}' ({what}); its header has: "
                            f"{shown}.")


# --- values --------------------------------------------------------------------------------

_MONEY = re.compile(r"^[+-]?\d+(\.\d+)?$")
_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(?: ?(Z|z|[+-]\d{2}(?::?\d{2})?))?)?$")


def parse_decimal(text: str) -> Decimal | None:
    """A plain decimal number (optional sign, digits, decimal point); else None."""
    value = text.strip()
    if not _MONEY.match(value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 timestamp or date (no offset = UTC) as aware UTC; else None.

    Used only to order a customer's rows (signup = first order); the warehouse
    parses the written value itself.
    """
    match = _ISO.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    offset = timedelta(0)
    if zone and zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        offset = -offset if zone[0] == "-" else offset
    try:
        return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                        int(second or 0), int((fraction or "0")[:6].ljust(6, "0")),
                        tzinfo=timezone(offset)).astimezone(UTC)
    except ValueError:
        return None


def normalize_email(text: str) -> str:
    """The e-mail as the warehouse matches people: NFC, trimmed, lower case."""
    return unicodedata.normalize("NFC", text).strip().lower()


class EmailKeys:
    """Customer ids from e-mails: keyed hashes, so no e-mail becomes an id.

    An export without customer ids (Shopify's orders export) identifies a customer by
    e-mail. The id written is ``email-`` + the first 32 hex digits of HMAC-SHA256 of
    the normalised e-mail keyed with RETENTION_HASH_KEY (the warehouse's secret), so
    the e-mail stays only in ``crm_customers.email`` (personal, erasable) and nobody
    without the key can recompute an id from an address.
    """

    def __init__(self, out_dir: Path, why: str) -> None:
        self.out_dir, self.why, self._key = out_dir, why, ""

    def customer_id(self, email: str) -> str:
        """The id of the customer with this e-mail ('' for a blank e-mail)."""
        normalized = normalize_email(email)
        if not normalized:
            return ""
        if not self._key:
            try:
                self._key = resolve_hash_key(self.out_dir)
            except HashKeyError as error:
                raise ImportFailure(f"{self.why}, so customers are keyed by e-mail: {error}"
                                    ) from None
        return "email-" + keyed_hash(normalized, self._key)[:32]


# --- writing -------------------------------------------------------------------------------

def first_seen(ledger: Sequence[LedgerRow]) -> dict[str, str]:
    """Each customer's signup: the earliest parseable transaction_at of its sales, as written.

    The same rule as the warehouse's customers derived from a ledger (signup = first
    sale). A customer none of whose sales has a parseable timestamp gets its first
    sale's value (the warehouse then quarantines both, never guesses).
    """
    result: dict[str, tuple[datetime | None, str]] = {}
    for row in ledger:
        if not row.customer_id.strip() or row.transaction_type != "sale":
            continue
        instant = parse_instant(row.transaction_at)
        known = result.get(row.customer_id)
        if known is None or (instant is not None and (known[0] is None or instant < known[0])):
            result[row.customer_id] = (instant, row.transaction_at)
    return {customer: written for customer, (_, written) in result.items()}


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Write a CSV file atomically (a half-written file never lands)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(partial, path)


def write_landing(out_dir: Path, report: ImportReport, ledger: Sequence[LedgerRow],
                  customers: Sequence[CustomerRow] | None = None,
                  max_error_share: float = DEFAULT_MAX_ERROR_SHARE) -> ImportReport:
    """Write the landing folder; raise ImportFailure when nothing usable came out.

    Files are named after the format and the export (``transactions/<fmt>-<name>.csv``),
    so importing the same export again replaces its file, and a newer export of the
    same orders lands beside it (the warehouse keeps the newest copy of each row).
    """
    name = f"{report.fmt}-{_stem(report.source)}"
    if report.rows_in == 0:
        raise ImportFailure(f"{report.source}: no data rows after the header.")
    share = sum(report.errors.values()) / report.rows_in
    if not ledger or share > max_error_share:
        top = ", ".join(f"{reason} {count}" for reason, count in report.errors.most_common(3))
        raise ImportFailure(
            f"{report.source}: {sum(report.errors.values()):,} of {report.rows_in:,} rows "
            f"({100 * share:.1f}%) cannot be mapped ({top or 'no sales at all'}); "
            f"nothing was written. Check the column mapping and --date-format "
            f"(more than {100 * max_error_share:g}% is refused, --max-error-share).")
    tx_path = out_dir / "transactions" / f"{name}.csv"
    _write_csv(tx_path, TRANSACTION_COLUMNS, [row.values() for row in ledger])
    report.rows_out["transactions"], report.paths["transactions"] = len(ledger), tx_path
    if customers:
        signup = first_seen(ledger)
        rows = [[c.customer_id, c.email, signup[c.customer_id], c.country_code,
                 c.marketing_consent] for c in customers if c.customer_id in signup]
        crm_path = out_dir / "crm_customers" / f"{name}.csv"
        _write_csv(crm_path, CUSTOMER_COLUMNS, rows)
        report.rows_out["crm_customers"], report.paths["crm_customers"] = len(rows), crm_path
    skipped_path = out_dir / SKIPPED_DIR / f"{name}.skipped.csv"
    if report.skipped_rows:
        columns = list(dict.fromkeys(c for _, _, fields in report.skipped_rows for c in fields))
        _write_csv(skipped_path, ["source_line", "reason", *columns],
                   [[str(line), reason, *(fields.get(c, "") for c in columns)]
                    for line, reason, fields in report.skipped_rows])
        report.paths["skipped"] = skipped_path
    else:
        skipped_path.unlink(missing_ok=True)
    return report


def _stem(path: Path) -> str:
    """The export's name without its endings, safe as a file name."""
    name = path.name
    for ending in (".gz", ".csv", ".txt", ".tsv"):
        if name.lower().endswith(ending):
            name = name[: -len(ending)]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) or "export"
