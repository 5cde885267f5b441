"""``retention import stripe``: a Stripe payments (charges) export (Dashboard > Payments > Export).

One row per charge, amounts in major units (``45.00``), currencies in lower case
(``usd``), ``Created (UTC)`` as ``2025-06-15 10:00:00``. Rules (docs/importing.md,
"Stripe payments export"):

* a charge is a sale when its Status is Paid, Succeeded, Refunded or Partially
  refunded and it was captured (``Captured`` not false): ``order_id`` =
  ``transaction_id`` = id, amount = Amount, currency = Currency upper-cased,
  ``transaction_at`` = Created (UTC) with its UTC offset written out;
* Amount Refunded above zero is a refund of that charge (``<id>#refund``), dated at the
  charge (the export has no refund date; the warehouse books refunds on their order);
* Failed, Canceled, Blocked, Incomplete, Pending, Uncaptured (and the API's
  ``requires_*`` states), uncaptured charges and test-mode rows (``Mode`` Test) are
  not sales: skipped, counted; Disputed stops the import unless ``--disputed`` says
  what to do (the export does not say whether a dispute was lost); any other Status
  stops it naming the value;
* customer = Customer ID; a guest charge without one is keyed by its Customer Email
  (a keyed hash, ``EmailKeys``), else customer_id is blank (quarantined);
* ``crm_customers`` (when the export has Customer Email): id, e-mail, signup = first
  charge.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from retention_warehouse.importers.common import (
    CustomerRow,
    EmailKeys,
    ImportFailure,
    ImportReport,
    LedgerRow,
    parse_decimal,
    read_records,
    require_columns,
)

REQUIRED = ("id", "Created (UTC)", "Amount", "Amount Refunded", "Currency", "Status")
SALE_STATUSES = ("paid", "succeeded", "refunded", "partially refunded", "partially_refunded")
REFUNDED_STATUSES = ("refunded", "partially refunded", "partially_refunded")
NOT_SALE_STATUSES = ("failed", "canceled", "cancelled", "blocked", "incomplete", "pending",
                     "uncaptured", "expired", "requires_payment_method", "requires_capture",
                     "requires_action", "requires_confirmation")
_UTC_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the Stripe importer."""
    parser.add_argument("--disputed", choices=("error", "sale", "skip"), default="error",
                        help="what a Disputed charge is: stop (default), a sale (a lost "
                        "dispute is then not netted), or not a sale")
    parser.add_argument("--encoding", default="utf-8", help="utf-8 (default) or windows-1252")


def utc_timestamp(text: str) -> str:
    """``2025-06-15 10:00:00`` (UTC by the column's name) as ``2025-06-15T10:00:00Z``.

    Anything else is written as exported, for the warehouse to read or quarantine.
    """
    value = text.strip()
    return value.replace(" ", "T") + "Z" if _UTC_TIME.match(value) else value


def run_import(args: argparse.Namespace, path: Path, out_dir: Path) -> tuple[
        ImportReport, list[LedgerRow], list[CustomerRow]]:
    """Map the export: the report, the ledger rows and the customers."""
    report = ImportReport("stripe", path)
    header, records = read_records(path, report, ",", None, args.encoding)
    require_columns(path, header, REQUIRED, "a Stripe payments export has it")
    if "Customer ID" not in header and "Customer Email" not in header:
        require_columns(path, header, ["Customer ID"], "or Customer Email: who paid")
    keys = EmailKeys(out_dir, "a Stripe charge without a Customer ID")
    ledger: list[LedgerRow] = []
    customers: dict[str, CustomerRow] = {}
    for record in records:
        status = record["Status"].strip().lower()
        if status == "disputed":
            if args.disputed == "error":
                raise ImportFailure(
                    f"{path}, line {record.line}: charge {record['id']} is Disputed and the "
                    "export does not say whether the dispute was lost; pass --disputed sale "
                    "(count it; a lost dispute is not netted) or --disputed skip.")
            status = "paid" if args.disputed == "sale" else "failed"
        if status not in SALE_STATUSES + NOT_SALE_STATUSES:
            raise ImportFailure(
                f"{path}, line {record.line}: charge {record['id']} has Status "
                f"'{record['Status']}', which the importer does not know (sales: "
                f"{', '.join(SALE_STATUSES)}; not sales: {', '.join(NOT_SALE_STATUSES)}).")
        if record["Mode"].strip().lower() == "test":
            report.skip(record, "test mode")
            continue
        if status in NOT_SALE_STATUSES:
            report.skip(record, f"Status {status}")
            continue
        if record["Captured"].strip().lower() in ("false", "no", "0", "f", "n"):
            report.skip(record, "not captured")
            continue
        refunded = record["Amount Refunded"].strip()
        refund = parse_decimal(refunded) if refunded else None
        no_refund = not refunded or (refund is not None and refund <= 0)
        if status in REFUNDED_STATUSES and no_refund:
            report.error(record, f"Status {status} without an Amount Refunded")
            continue
        charge = record["id"].strip()
        customer = record["Customer ID"].strip() or keys.customer_id(record["Customer Email"])
        if not customer:
            report.notes["no Customer ID or Customer Email: with a blank "
                         "customer_id (quarantined missing_required_field)"] += 1
        when = utc_timestamp(record["Created (UTC)"])
        currency = record["Currency"].strip().upper()
        ledger.append(LedgerRow(charge, charge, customer, "sale", when,
                                record["Amount"].strip(), currency))
        if not no_refund:
            if refund is None:
                report.notes["Amount Refunded not a number: as exported "
                              "(quarantined invalid_value)"] += 1
            ledger.append(LedgerRow(f"{charge}#refund", charge, customer, "refund", when,
                                    refunded, currency))
        email = record["Customer Email"].strip()
        if customer and (customer not in customers or (email and not customers[customer].email)):
            customers[customer] = CustomerRow(customer, email)
    has_email = any(row.email for row in customers.values())
    return report, ledger, list(customers.values()) if has_email else []
