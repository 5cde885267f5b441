"""``retention import shopify``: a Shopify orders export (Admin > Orders > Export, CSV).

Shopify writes one row per line item; the order-level fields (Financial Status,
Total, Refunded Amount, Cancelled at, ...) are on the order's first row only, and
every row carries the order's ``Name`` (``#1001``). Rules (docs/importing.md,
"Shopify orders export"):

* one sale per order: ``order_id`` = Name, amount = Total (what the customer paid:
  after discounts, with shipping and taxes, the amount Refunded Amount is part of),
  ``transaction_at`` = Created at as exported (``2025-06-15 10:00:00 -0400``),
  ``items_count`` = the sum of Lineitem quantity over the order's rows;
* Financial Status paid, partially_refunded, refunded: a completed sale, plus a refund
  of Refunded Amount when it is above zero, dated at the order (the export has no
  refund date; the warehouse books refunds on their order anyway); pending,
  authorized, partially_paid, expired, voided: not a sale (skipped, counted);
  any other value stops the import naming it;
* Cancelled at set: the sale is written with status cancelled (kept, never a
  purchase) and no refund (the cancellation already takes the order out of revenue);
* the export has no customer id: customers are keyed by e-mail (a keyed hash, see
  ``EmailKeys``); a blank Email leaves customer_id blank (quarantined);
* ``crm_customers``: per customer its e-mail, Billing Country and Accepts Marketing
  from its latest order, signup = its first order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from retention_warehouse.importers.common import (
    CustomerRow,
    EmailKeys,
    ImportFailure,
    ImportReport,
    LedgerRow,
    Record,
    parse_decimal,
    parse_instant,
    read_records,
    require_columns,
)

REQUIRED = ("Name", "Email", "Financial Status", "Created at", "Currency", "Total",
            "Refunded Amount", "Cancelled at")
SALE_STATUSES = ("paid", "partially_refunded", "refunded")
NOT_SALE_STATUSES = ("pending", "authorized", "partially_paid", "expired", "voided")
REFUNDED_STATUSES = ("partially_refunded", "refunded")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No mapping options: the export's columns are fixed."""
    parser.add_argument("--encoding", default="utf-8", help="utf-8 (default) or windows-1252")


def _items(lines: list[Record]) -> str:
    """Sum of Lineitem quantity; the first value that is not a count as exported."""
    values = [line["Lineitem quantity"].strip() for line in lines]
    if all(value.isdigit() for value in values):
        return str(sum(int(value) for value in values)) if values else ""
    return next(value for value in values if not value.isdigit())


def run_import(args: argparse.Namespace, path: Path, out_dir: Path) -> tuple[
        ImportReport, list[LedgerRow], list[CustomerRow]]:
    """Map the export: the report, the ledger rows and the customers."""
    report = ImportReport("shopify", path)
    header, records = read_records(path, report, ",", None, args.encoding)
    require_columns(path, header, REQUIRED, "a Shopify orders export has it")
    keys = EmailKeys(out_dir, "a Shopify orders export has no customer id")
    orders: dict[str, list[Record]] = {}
    for record in records:
        name = record["Name"].strip()
        if not name:
            report.error(record, "no order Name")
            continue
        orders.setdefault(name, []).append(record)

    ledger: list[LedgerRow] = []
    customers: dict[str, tuple[object, CustomerRow]] = {}
    for name, lines in orders.items():
        first = lines[0]
        status = first["Financial Status"].strip().lower()
        if status not in SALE_STATUSES + NOT_SALE_STATUSES:
            raise ImportFailure(
                f"{path}, line {first.line}: order {name} has Financial Status "
                f"'{first['Financial Status']}', which the importer does not know (sales: "
                f"{', '.join(SALE_STATUSES)}; not sales: {', '.join(NOT_SALE_STATUSES)}).")
        cancelled = bool(first["Cancelled at"].strip())
        if status in NOT_SALE_STATUSES and not cancelled:
            for line in lines:
                report.skip(line, f"Financial Status {status}")
            continue
        refunded = first["Refunded Amount"].strip()
        refund = parse_decimal(refunded) if refunded else None
        no_refund = not refunded or (refund is not None and refund <= 0)
        if status in REFUNDED_STATUSES and not cancelled and no_refund:
            for line in lines:
                report.error(line, f"Financial Status {status} without a Refunded Amount")
            continue
        customer = keys.customer_id(first["Email"])
        if not customer:
            report.notes["no Email: with a blank customer_id (quarantined "
                         "missing_required_field)"] += 1
        when = first["Created at"].strip()
        currency = first["Currency"].strip().upper()
        ledger.append(LedgerRow(f"{name}#sale", name, customer, "sale", when,
                                first["Total"].strip(), currency,
                                "cancelled" if cancelled else "completed", _items(lines)))
        if cancelled and not no_refund:
            report.notes["refund of a cancelled order: not written (the cancelled sale "
                         "is no revenue)"] += 1
        elif not cancelled and not no_refund:
            if refund is None:
                report.notes["Refunded Amount not a number: as exported "
                              "(quarantined invalid_value)"] += 1
            ledger.append(LedgerRow(f"{name}#refund", name, customer, "refund", when,
                                    refunded, currency))
        if customer:
            instant = parse_instant(when)
            latest = customers.get(customer)
            if latest is None or (instant is not None and (
                    latest[0] is None or instant > latest[0])):  # type: ignore[operator]
                customers[customer] = (instant, CustomerRow(
                    customer, first["Email"].strip(),
                    first["Billing Country"].strip().upper(),
                    first["Accepts Marketing"].strip()))
    return report, ledger, [row for _, row in customers.values()]
