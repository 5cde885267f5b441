"""``retention import generic``: any ``customer, date, amount`` orders log with a column mapping.

Rules (docs/importing.md, "Generic orders log"):

* one row is one order unless ``--order-col`` is given; the derived order id is
  ``<customer>@<date as written>#<n>`` (the n-th row of that customer and date in the
  file), so re-importing the export, or a longer export of the same history, gives
  every old row the same id again;
* with ``--order-col``, rows sharing an order id are the lines of one order: one sale
  with the lines' summed amount (and item count), the first line's customer, timestamp
  and currency; lines that disagree on the customer or currency cannot be one order
  and are skipped as errors;
* a negative amount is a refund of its order (``--order-col``), written positive as
  ``<order>#refund#<k>``; without ``--order-col`` there is no order it could refund,
  so it is written as a sale as exported and the warehouse quarantines it
  (``negative_amount``);
* ``--date-format`` (a strptime format) turns dates into ISO 8601 (a format without
  a time gives a date, midnight UTC; without ``%z`` the time is read as UTC); a
  value not in the format is an error row. Without it dates are written as exported
  and the warehouse reads its ISO 8601 forms.
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from retention_warehouse.importers.common import (
    ImportFailure,
    ImportReport,
    LedgerRow,
    Record,
    parse_decimal,
    read_records,
    require_columns,
)

Mapped = list[tuple[Record, str]]  # input rows with their converted date
Getter = Callable[[Record], str]
_TIME_DIRECTIVES = re.compile(r"%[HIMSfpzZXcT]")
DELIMITERS = {"comma": ",", "tab": "\t", "\\t": "\t", "semicolon": ";", "pipe": "|"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The column mapping and reading options."""
    parser.add_argument("--customer-col", required=True, help="column of the customer id")
    parser.add_argument("--date-col", required=True, help="column of the order date or time")
    parser.add_argument("--amount-col", required=True,
                        help="column of the amount (negative = refund, see --order-col)")
    parser.add_argument("--order-col", help="column of the order id (default: one order per "
                        "row, id <customer>@<date>#<n>)")
    currency = parser.add_mutually_exclusive_group(required=True)
    currency.add_argument("--currency", help="the one ISO 4217 currency of every amount")
    currency.add_argument("--currency-col", help="column of each row's ISO 4217 currency")
    parser.add_argument("--items-col", help="column of the item count (optional)")
    parser.add_argument("--date-format", help="strptime format of the dates, e.g. %%Y%%m%%d "
                        "or '%%d/%%m/%%Y %%H:%%M' (default: ISO 8601 as exported)")
    parser.add_argument("--delimiter", default=",", help="field separator: a character, "
                        "comma, tab, semicolon, pipe, or whitespace (runs of spaces, no quoting)")
    header = parser.add_mutually_exclusive_group()
    header.add_argument("--no-header", action="store_true",
                        help="the file has no header row; columns are named 1, 2, 3, ...")
    header.add_argument("--columns", help="the file has no header row; these comma-separated "
                        "names are its columns")
    parser.add_argument("--encoding", default="utf-8", help="utf-8 (default) or windows-1252")


def _delimiter(text: str) -> str:
    value = DELIMITERS.get(text.lower(), text)
    if value != "whitespace" and len(value) != 1:
        raise ImportFailure(f"--delimiter {text!r}: give one character, comma, tab, semicolon, "
                            "pipe or whitespace.")
    return value


def convert_date(text: str, date_format: str | None) -> str | None:
    """The date as the contract writes it; None when it is not in ``date_format``."""
    value = text.strip()
    if not date_format:
        return value
    try:
        parsed = datetime.strptime(value, date_format)
    except ValueError:
        return None
    if not _TIME_DIRECTIVES.search(date_format):
        return parsed.date().isoformat()
    return parsed.isoformat()


def _sum_amounts(texts: list[str]) -> str:
    """The lines' total as text; the first unreadable amount as exported if any."""
    values = [parse_decimal(text) for text in texts]
    if any(value is None for value in values):
        return next(text for text, value in zip(texts, values, strict=True) if value is None)
    total = sum(values, Decimal(0))  # type: ignore[arg-type]
    decimals = max(len(text.strip().partition(".")[2]) for text in texts)
    return f"{total:.{decimals}f}"


def _sum_items(texts: list[str]) -> str:
    stripped = [text.strip() for text in texts]
    if all(text.isdigit() for text in stripped):
        return str(sum(int(text) for text in stripped))
    return next(text for text in stripped if not text.isdigit())


def run_import(args: argparse.Namespace, path: Path, out_dir: Path) -> tuple[
        ImportReport, list[LedgerRow], None]:
    """Map the log: the report and the rows to write (no customer table)."""
    report = ImportReport("generic", path)
    columns = [name.strip() for name in args.columns.split(",")] if args.columns else None
    header, records = read_records(path, report, _delimiter(args.delimiter), columns,
                                   args.encoding, has_header=not (args.no_header or columns))
    mapping = {"--customer-col": args.customer_col, "--date-col": args.date_col,
               "--amount-col": args.amount_col, "--order-col": args.order_col,
               "--currency-col": args.currency_col, "--items-col": args.items_col}
    for option, column in mapping.items():
        if column:
            require_columns(path, header, [column], f"given as {option}")

    def currency(record: Record) -> str:
        return (record[args.currency_col] if args.currency_col else args.currency).strip().upper()

    def items(record: Record) -> str:
        return record[args.items_col].strip() if args.items_col else ""

    mapped: list[tuple[Record, str]] = []
    for record in records:
        when = convert_date(record[args.date_col], args.date_format)
        if when is None:
            report.error(record, f"date not in --date-format {args.date_format}")
            continue
        mapped.append((record, when))

    if not args.order_col:
        return report, _one_order_per_row(mapped, report, args, currency, items), None
    return report, _orders_by_column(mapped, report, args, currency, items), None


def _one_order_per_row(mapped: Mapped, report: ImportReport, args: argparse.Namespace,
                       currency: Getter, items: Getter) -> list[LedgerRow]:
    seen: dict[tuple[str, str], int] = defaultdict(int)
    ledger = []
    for record, when in mapped:
        customer = record[args.customer_col].strip()
        written_date = record[args.date_col].strip()
        seen[customer, written_date] += 1
        order = f"{customer}@{written_date}#{seen[customer, written_date]}"
        amount = record[args.amount_col].strip()
        if amount.startswith("-"):
            report.notes["negative amount without --order-col: as a sale "
                         "(quarantined negative_amount)"] += 1
        ledger.append(LedgerRow(f"{order}#sale", order, customer, "sale", when, amount,
                                currency(record), items_count=items(record)))
    return ledger


def _orders_by_column(mapped: Mapped, report: ImportReport, args: argparse.Namespace,
                      currency: Getter, items: Getter) -> list[LedgerRow]:
    orders: dict[str, list[tuple[Record, str]]] = {}
    for record, when in mapped:
        orders.setdefault(record[args.order_col].strip(), []).append((record, when))
    ledger = []
    for order, lines in orders.items():
        sales = [(r, w) for r, w in lines if not r[args.amount_col].strip().startswith("-")]
        refunds = [(r, w) for r, w in lines if r[args.amount_col].strip().startswith("-")]
        for what, get in (("customer", lambda r: r[args.customer_col].strip()),
                          ("currency", currency)):
            if len({get(r) for r, _ in sales}) > 1:
                for record, _ in lines:
                    report.error(record, f"order lines disagree on the {what}")
                break
        else:
            if sales:
                first, when = sales[0]
                ledger.append(LedgerRow(
                    f"{order}#sale", order, first[args.customer_col].strip(), "sale", when,
                    _sum_amounts([r[args.amount_col] for r, _ in sales]), currency(first),
                    items_count=_sum_items([items(r) for r, _ in sales]) if args.items_col
                    else ""))
            for k, (record, when) in enumerate(refunds, 1):
                ledger.append(LedgerRow(
                    f"{order}#refund#{k}", order, record[args.customer_col].strip(), "refund",
                    when, record[args.amount_col].strip()[1:].strip(), currency(record),
                    items_count=items(record).lstrip("-")))
            if refunds:
                report.notes["negative amount: as a refund of its order"] += len(refunds)
    return ledger
