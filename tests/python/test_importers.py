"""``retention import``: generic, Shopify and Stripe exports become landing folders that build.

Unit tests run the command in-process on small inputs written here, one mapping rule each
(docs/importing.md). The whole path - import, ``retention build``, marts - runs once per
format on the hand-made fixtures in ``tests/fixtures/import/`` (written the way those
systems write their exports), and every expected mart value below was worked out by hand
from the fixture (the comments say how), never read from a build.
"""

from __future__ import annotations

import csv
import gzip
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import PROJECT_DIR
from test_hostile_input import TEST_HASH_KEY, ok, query, retention_build

from retention_warehouse.cli import main
from retention_warehouse.importers.common import normalize_email
from retention_warehouse.pii import keyed_hash

FIXTURES = PROJECT_DIR / "tests" / "fixtures" / "import"
QUARANTINE = "staging.stg_quarantine__rejected_rows"
GENERIC_FIXTURE_ARGS = [
    "--delimiter", ";", "--order-col", "receipt", "--customer-col", "client", "--date-col",
    "when", "--amount-col", "total", "--currency-col", "cur", "--items-col", "qty",
    "--date-format", "%d/%m/%Y %H:%M", "--max-error-share", "0.1"]
TX = "transaction_id,order_id,customer_id,transaction_type,transaction_at,amount,currency_code"


@pytest.fixture(autouse=True)
def hash_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Real exports need the warehouse's secret (Shopify and guest Stripe ids are keyed)."""
    monkeypatch.setenv("RETENTION_HASH_KEY", TEST_HASH_KEY)


def run_import(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    """``retention import ...`` in-process: exit code, stdout, stderr."""
    code = main(["import", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def rows(path: Path) -> list[dict[str, str]]:
    """A written CSV file as dicts."""
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def ledger(out: Path, columns: str = TX) -> list[tuple[str, ...]]:
    """The transactions written, as tuples of the given columns."""
    [path] = (out / "transactions").glob("*.csv")
    names = columns.split(",")
    return [tuple(row[n] for n in names) for row in rows(path)]


def email_id(email: str) -> str:
    """The documented customer id of an e-mail (docs/importing.md, "Customers by e-mail")."""
    return "email-" + keyed_hash(normalize_email(email), TEST_HASH_KEY)[:32]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- generic: unit tests -----------------------------------------------------------------

GENERIC = ["--customer-col", "customer", "--date-col", "day", "--amount-col", "amount",
           "--currency", "usd"]


def test_generic_one_order_per_row_with_ids_stable_across_reimports(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two orders of one customer on one day are #1 and #2; a longer export of the same
    history (a row added at the top and one at the end) gives the old rows the same ids."""
    log = "customer,day,amount\nc1,2025-01-02,10.00\nc1,2025-01-02,12.00\nc2,2025-01-03,5.00\n"
    code, out, _ = run_import(capsys, "generic", write(tmp_path / "a.csv", log), "--out",
                              tmp_path / "one", *GENERIC)
    assert code == 0 and "3 rows in" in out and "wrote 3 transactions rows" in out
    first = ledger(tmp_path / "one")
    assert first == [
        ("c1@2025-01-02#1#sale", "c1@2025-01-02#1", "c1", "sale", "2025-01-02", "10.00", "USD"),
        ("c1@2025-01-02#2#sale", "c1@2025-01-02#2", "c1", "sale", "2025-01-02", "12.00", "USD"),
        ("c2@2025-01-03#1#sale", "c2@2025-01-03#1", "c2", "sale", "2025-01-03", "5.00", "USD")]
    longer = "customer,day,amount\nc3,2024-12-31,7.00\n" + log.split("\n", 1)[1] + \
        "c1,2025-01-04,9.00\n"
    assert run_import(capsys, "generic", write(tmp_path / "a.csv", longer), "--out",
                      tmp_path / "two", *GENERIC)[0] == 0
    second = ledger(tmp_path / "two")
    assert [row for row in second if row[2] != "c3" and row[4] != "2025-01-04"] == first


def test_generic_negative_amount_without_order_column_is_left_for_the_quarantine(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No order to refund: written as a sale as exported (staging: negative_amount)."""
    log = "customer,day,amount\nc1,2025-01-02,10.00\nc1,2025-01-05,-4.00\n"
    code, out, _ = run_import(capsys, "generic", write(tmp_path / "a.csv", log), "--out",
                              tmp_path / "o", *GENERIC)
    assert code == 0
    assert ledger(tmp_path / "o", "transaction_type,amount") == [("sale", "10.00"),
                                                                  ("sale", "-4.00")]
    assert ("written: negative amount without --order-col: as a sale (quarantined "
            "negative_amount): 1") in out


def test_generic_order_lines_are_one_sale_and_negative_lines_its_refunds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Lines 20.00 + 15.5 + 0.25 are one sale of 35.75 with 1 + 2 + 1 items; each negative
    line is a refund of the order, written positive; an unreadable line amount is the
    order's amount as exported (so the warehouse quarantines the whole order)."""
    log = ("order,customer,day,amount,items\nO1,c1,2025-01-02T10:00:00Z,20.00,1\n"
           "O1,c1,2025-01-02T10:00:00Z,15.5,2\nO1,c1,2025-01-02T10:00:00Z,0.25,1\n"
           "O1,c1,2025-01-09T10:00:00Z,-5.00,-1\nO1,c1,2025-01-10T10:00:00Z,-1.00,0\n"
           "O2,c2,2025-01-03T10:00:00Z,10.00,1\nO2,c2,2025-01-03T10:00:00Z,\"1,000.00\",1\n")
    code, out, _ = run_import(capsys, "generic", write(tmp_path / "a.csv", log), "--out",
                              tmp_path / "o", *GENERIC, "--order-col", "order",
                              "--items-col", "items")
    assert code == 0, out
    assert ledger(tmp_path / "o", TX + ",items_count") == [
        ("O1#sale", "O1", "c1", "sale", "2025-01-02T10:00:00Z", "35.75", "USD", "4"),
        ("O1#refund#1", "O1", "c1", "refund", "2025-01-09T10:00:00Z", "5.00", "USD", "1"),
        ("O1#refund#2", "O1", "c1", "refund", "2025-01-10T10:00:00Z", "1.00", "USD", "0"),
        ("O2#sale", "O2", "c2", "sale", "2025-01-03T10:00:00Z", "1,000.00", "USD", "2")]
    assert "written: negative amount: as a refund of its order: 2" in out


def test_generic_lines_that_disagree_on_the_customer_are_not_one_order(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = ("order,customer,day,amount\n" + "".join(
        f"O{n},c{n},2025-01-{n:02d},10.00\n" for n in range(1, 20)) +
        "O99,c1,2025-01-20,5.00\nO99,c2,2025-01-20,6.00\n")
    code, out, _ = run_import(capsys, "generic", write(tmp_path / "a.csv", log), "--out",
                              tmp_path / "o", *GENERIC, "--order-col", "order",
                              "--max-error-share", "0.1")
    assert code == 0
    assert "skipped, cannot be mapped: order lines disagree on the customer: 2" in out
    assert all(row[1] != "O99" for row in ledger(tmp_path / "o"))
    skipped = rows(tmp_path / "o" / "_import" / "generic-a.skipped.csv")
    assert [(r["source_line"], r["order"], r["customer"]) for r in skipped] == [
        ("21", "O99", "c1"), ("22", "O99", "c2")]


@pytest.mark.parametrize(("date_format", "value", "written"), [
    ("%Y%m%d", "19970101", "1997-01-01"),  # a date alone: midnight UTC
    ("%d/%m/%Y %H:%M", "05/03/2025 10:00", "2025-03-05T10:00:00"),  # no %z: UTC
    ("%m/%d/%Y %I:%M %p %z", "03/05/2025 10:00 PM -0500", "2025-03-05T22:00:00-05:00"),
])
def test_generic_date_format_writes_iso_8601(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             date_format: str, value: str, written: str) -> None:
    log = f"customer,day,amount\nc1,{value},10.00\n"
    code, _, err = run_import(capsys, "generic", write(tmp_path / "a.csv", log), "--out",
                              tmp_path / "o", *GENERIC, "--date-format", date_format)
    assert code == 0, err
    assert ledger(tmp_path / "o", "transaction_at") == [(written,)]


def test_generic_dates_not_in_the_format_refuse_the_import_past_the_error_share(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """2 of 3 rows with ISO dates under --date-format %d/%m/%Y: one line, nothing written."""
    log = "customer,day,amount\nc1,05/03/2025,10.00\nc1,2025-03-06,10.00\nc2,2025-03-07,1.00\n"
    code, out, err = run_import(capsys, "generic", write(tmp_path / "a.csv", log), "--out",
                                tmp_path / "o", *GENERIC, "--date-format", "%d/%m/%Y")
    assert code == 2 and out == ""
    assert err == (f"error: {tmp_path / 'a.csv'}: 2 of 3 rows (66.7%) cannot be mapped (date "
                   "not in --date-format %d/%m/%Y 2); nothing was written. Check the column "
                   "mapping and --date-format (more than 5% is refused, --max-error-share).\n")
    assert not (tmp_path / "o").exists()


def test_generic_whitespace_log_without_header(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """CDNOW's layout: space-aligned columns, no header, named by --columns."""
    log = " 00001 19970101  1   11.77\r\n 00002 19970112  2   12.00\r\n\r\n"
    code, _, err = run_import(capsys, "generic", write(tmp_path / "cd.txt", log), "--out",
                              tmp_path / "o", "--delimiter", "whitespace", "--columns",
                              "id,day,cds,usd", "--customer-col", "id", "--date-col", "day",
                              "--amount-col", "usd", "--items-col", "cds", "--currency", "USD",
                              "--date-format", "%Y%m%d")
    assert code == 0, err
    assert ledger(tmp_path / "o", "customer_id,transaction_at,amount,items_count") == [
        ("00001", "1997-01-01", "11.77", "1"), ("00002", "1997-01-12", "12.00", "2")]
    code, _, _ = run_import(capsys, "generic", tmp_path / "cd.txt", "--out", tmp_path / "p",
                            "--delimiter", "whitespace", "--no-header", "--customer-col", "1",
                            "--date-col", "2", "--amount-col", "4", "--currency", "USD")
    assert code == 0 and ledger(tmp_path / "p", "customer_id,transaction_at")[0] == (
        "00001", "19970101")  # no --date-format: as exported, the warehouse judges it


def test_generic_rows_with_the_wrong_number_of_fields_are_error_rows(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = "customer,day,amount\n" + "c1,2025-01-02,1.00\n" * 30 + "c1,2025-01-02\n"
    code, out, _ = run_import(capsys, "generic", write(tmp_path / "a.csv", log), "--out",
                              tmp_path / "o", *GENERIC)
    assert code == 0
    assert "skipped, cannot be mapped: wrong number of fields (2, the header has 3): 1" in out


@pytest.mark.parametrize(("extra", "message"), [
    (["--customer-col", "buyer"], "no column 'buyer' (given as --customer-col); its header "
                                  "has: customer, day, amount."),
    (["--delimiter", "::"], "--delimiter '::': give one character, comma, tab, semicolon, "
                            "pipe or whitespace."),
])
def test_generic_mapping_mistakes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                               extra: list[str], message: str) -> None:
    path = write(tmp_path / "a.csv", "customer,day,amount\nc1,2025-01-02,1.00\n")
    code, _, err = run_import(capsys, "generic", path, "--out", tmp_path / "o", *GENERIC, *extra)
    assert code == 2
    assert err.splitlines() == [f"error: {path}: {message}" if "column" in message
                                else f"error: {message}"]


def test_a_byte_not_in_the_encoding_is_one_line_naming_file_and_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "a.csv.gz"
    path.write_bytes(gzip.compress(b"customer,day,amount\nc1,2025-01-02,1.00\nRen\xe9,"
                                   b"2025-01-03,2.00\n"))
    code, _, err = run_import(capsys, "generic", path, "--out", tmp_path / "o", *GENERIC)
    assert code == 2 and "Traceback" not in err
    assert err == (f"error: {path}, line 3: byte 0xe9 is not valid utf-8; pass --encoding "
                   "windows-1252 if the export is in that encoding.\n")
    code, _, _ = run_import(capsys, "generic", path, "--out", tmp_path / "o", *GENERIC,
                            "--encoding", "windows-1252")
    assert code == 0 and ledger(tmp_path / "o", "customer_id")[1] == ("Ren\u00e9",)


# --- Shopify: unit tests -----------------------------------------------------------------

SHOPIFY_HEADER = ("Name,Email,Financial Status,Paid at,Accepts Marketing,Currency,Total,"
                  "Created at,Lineitem quantity,Billing Country,Cancelled at,Refunded Amount\n")


def test_shopify_fixture_maps_to_one_sale_per_order(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """By hand from the fixture: #1006 pending is skipped; #1005 cancelled (refund not
    written); #1004 two line rows, 1 + 2 items, Total 65.00, Refunded Amount 15.00; #1002
    three line rows; #1001 refunded in full; ANN@Shop.test and ann@shop.test are one
    customer."""
    code, out, _ = run_import(capsys, "shopify", FIXTURES / "shopify.csv", "--out", tmp_path)
    assert code == 0
    ann, bo, cara = (email_id(e) for e in ("ann@shop.test", "bo@shop.test", "cara@shop.test"))
    assert ledger(tmp_path, TX + ",status,items_count") == [
        ("#1005#sale", "#1005", cara, "sale", "2025-06-18 12:00:00 +0200", "50.00", "USD",
         "cancelled", "2"),
        ("#1004#sale", "#1004", ann, "sale", "2025-06-15 10:00:00 -0400", "65.00", "USD",
         "completed", "3"),
        ("#1004#refund", "#1004", ann, "refund", "2025-06-15 10:00:00 -0400", "15.00", "USD",
         "", ""),
        ("#1003#sale", "#1003", bo, "sale", "2025-05-31 22:30:00 -0400", "40.00", "USD",
         "completed", "1"),
        ("#1002#sale", "#1002", ann, "sale", "2025-05-10 09:00:00 -0400", "25.00", "USD",
         "completed", "3"),
        ("#1001#sale", "#1001", bo, "sale", "2025-05-02 08:00:00 -0400", "20.00", "USD",
         "completed", "1"),
        ("#1001#refund", "#1001", bo, "refund", "2025-05-02 08:00:00 -0400", "20.00", "USD",
         "", "")]
    # Country and consent from the latest order, signup = the first written order.
    assert rows(tmp_path / "crm_customers" / "shopify-shopify.csv") == [
        {"customer_id": cara, "email": "cara@shop.test", "signup_at": "2025-06-18 12:00:00 +0200",
         "country_code": "DE", "marketing_consent": "yes"},
        {"customer_id": ann, "email": "ann@shop.test", "signup_at": "2025-05-10 09:00:00 -0400",
         "country_code": "US", "marketing_consent": "yes"},
        {"customer_id": bo, "email": "bo@shop.test", "signup_at": "2025-05-02 08:00:00 -0400",
         "country_code": "CA", "marketing_consent": "no"}]
    assert "9 rows in" in out and "skipped, not a sale: Financial Status pending: 1" in out
    assert "written: refund of a cancelled order: not written" in out


def test_shopify_unknown_financial_status_stops_the_import(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "orders_export.csv", SHOPIFY_HEADER +
                 "#1,a@shop.test,paid,,no,USD,10.00,2025-06-01 10:00:00 -0400,1,US,,0.00\n"
                 "#2,b@shop.test,chargeback,,no,USD,10.00,2025-06-01 10:00:00 -0400,1,US,,\n")
    code, _, err = run_import(capsys, "shopify", path, "--out", tmp_path / "o")
    assert code == 2 and not (tmp_path / "o").exists()
    assert err == (f"error: {path}, line 3: order #2 has Financial Status 'chargeback', which "
                   "the importer does not know (sales: paid, partially_refunded, refunded; not "
                   "sales: pending, authorized, partially_paid, expired, voided).\n")


def test_shopify_without_the_hash_key_or_a_column_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "orders_export.csv", SHOPIFY_HEADER +
                 "#1,a@shop.test,paid,,no,USD,10.00,2025-06-01 10:00:00 -0400,1,US,,0.00\n")
    monkeypatch.delenv("RETENTION_HASH_KEY")
    code, _, err = run_import(capsys, "shopify", path, "--out", tmp_path / "o")
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: a Shopify orders export has no customer id, so customers are "
                          "keyed by e-mail: RETENTION_HASH_KEY is not set.")
    no_total = write(tmp_path / "x.csv", SHOPIFY_HEADER.replace(",Total", ",Totals"))
    code, _, err = run_import(capsys, "shopify", no_total, "--out", tmp_path / "o")
    assert code == 2 and err.startswith(
        f"error: {no_total}: no column 'Total' (a Shopify orders export has it); its header "
        "has: Name, Email")


def test_shopify_refunded_without_refunded_amount_and_blank_email(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A refunded order without an amount is not guessed (error row); an order without an
    e-mail is written with a blank customer_id for the warehouse to quarantine."""
    body = "".join(f"#{n},c{n}@shop.test,paid,,no,USD,10.00,2025-06-01 10:00:00 -0400,1,US,,"
                   "0.00\n" for n in range(1, 21))
    path = write(tmp_path / "orders_export.csv", SHOPIFY_HEADER + body +
                 "#90,z@shop.test,refunded,,no,USD,10.00,2025-06-02 10:00:00 -0400,1,US,,\n"
                 "#91,,paid,,no,USD,12.00,2025-06-02 11:00:00 -0400,1,,,0.00\n")
    code, out, _ = run_import(capsys, "shopify", path, "--out", tmp_path / "o")
    assert code == 0
    assert "skipped, cannot be mapped: Financial Status refunded without a Refunded Amount: 1" \
        in out
    written = ledger(tmp_path / "o", "order_id,customer_id,amount")
    assert ("#91", "", "12.00") in written and all(row[0] != "#90" for row in written)
    assert "written: no Email: with a blank customer_id" in out


# --- Stripe: unit tests ------------------------------------------------------------------

STRIPE_HEADER = ("id,Created (UTC),Amount,Amount Refunded,Currency,Status,Customer ID,"
                 "Customer Email,Captured\n")


def test_stripe_fixture_maps_captured_charges_and_refunds(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """By hand from the fixture: Failed, Uncaptured and the Test-mode charge are not sales;
    ch_3Pq5 is refunded in full, ch_3Pq3 by 30.00; the guest charge is keyed by e-mail."""
    code, out, _ = run_import(capsys, "stripe", FIXTURES / "stripe.csv", "--out", tmp_path)
    assert code == 0
    guest = email_id("guest@shop.test")
    assert ledger(tmp_path) == [
        ("ch_3Pq7", "ch_3Pq7", "cus_B", "sale", "2025-07-02T09:00:00Z", "30.00", "USD"),
        ("ch_3Pq5", "ch_3Pq5", "cus_A", "sale", "2025-06-20T23:30:00Z", "45.50", "USD"),
        ("ch_3Pq5#refund", "ch_3Pq5", "cus_A", "refund", "2025-06-20T23:30:00Z", "45.50", "USD"),
        ("ch_3Pq4", "ch_3Pq4", guest, "sale", "2025-06-15T10:00:00Z", "20.00", "USD"),
        ("ch_3Pq3", "ch_3Pq3", "cus_B", "sale", "2025-06-10T08:00:00Z", "80.00", "USD"),
        ("ch_3Pq3#refund", "ch_3Pq3", "cus_B", "refund", "2025-06-10T08:00:00Z", "30.00", "USD"),
        ("ch_3Pq1", "ch_3Pq1", "cus_A", "sale", "2025-05-28T15:00:00Z", "60.00", "USD")]
    for line in ("8 rows in", "wrote 7 transactions rows", "wrote 3 crm_customers rows",
                 "skipped, not a sale: Status failed: 1", "skipped, not a sale: Status "
                 "uncaptured: 1", "skipped, not a sale: test mode: 1"):
        assert line in out


def test_stripe_disputed_and_unknown_statuses(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / "payments.csv", STRIPE_HEADER +
                 "ch_1,2025-06-01 10:00:00,10.00,0.00,usd,Paid,cus_A,,true\n"
                 "ch_2,2025-06-02 10:00:00,12.00,0.00,usd,Disputed,cus_A,,true\n")
    code, _, err = run_import(capsys, "stripe", path, "--out", tmp_path / "o")
    assert code == 2 and err == (
        f"error: {path}, line 3: charge ch_2 is Disputed and the export does not say whether "
        "the dispute was lost; pass --disputed sale (count it; a lost dispute is not netted) "
        "or --disputed skip.\n")
    assert run_import(capsys, "stripe", path, "--out", tmp_path / "s", "--disputed", "sale")[0] == 0
    assert [row[0] for row in ledger(tmp_path / "s")] == ["ch_1", "ch_2"]
    assert run_import(capsys, "stripe", path, "--out", tmp_path / "k", "--disputed", "skip")[0] == 0
    assert [row[0] for row in ledger(tmp_path / "k")] == ["ch_1"]
    odd = write(tmp_path / "odd.csv", STRIPE_HEADER +
                "ch_1,2025-06-01 10:00:00,10.00,0.00,usd,Reversed,cus_A,,true\n")
    code, _, err = run_import(capsys, "stripe", odd, "--out", tmp_path / "o")
    assert code == 2 and err.startswith(f"error: {odd}, line 2: charge ch_1 has Status "
                                        "'Reversed', which the importer does not know")


def test_stripe_values_the_warehouse_judges_are_written_as_exported(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Created (UTC) gets its Z; another date form, a 1,000.00 amount and an unreadable
    Amount Refunded are written as exported (staging quarantines them); a Refunded charge
    without an Amount Refunded is an error row; Customer ID wins over the e-mail."""
    body = "".join(f"ch_{n},2025-06-01 10:00,10.00,0.00,usd,Paid,cus_{n},c{n}@shop.test,true\n"
                   for n in range(1, 21))
    path = write(tmp_path / "payments.csv", STRIPE_HEADER + body +
                 "ch_a,15/06/2025 10:00,\"1,000.00\",0.00,usd,Paid,cus_9,,true\n"
                 "ch_b,2025-06-16 10:00:00,20.00,ten,usd,Partially refunded,,g@shop.test,true\n"
                 "ch_c,2025-06-17 10:00:00,20.00,0.00,usd,Refunded,cus_9,,true\n")
    code, out, _ = run_import(capsys, "stripe", path, "--out", tmp_path / "o")
    assert code == 0
    written = {row[0]: row for row in ledger(tmp_path / "o")}
    assert written["ch_1"][2:] == ("cus_1", "sale", "2025-06-01T10:00Z", "10.00", "USD")
    assert written["ch_a"][4:6] == ("15/06/2025 10:00", "1,000.00")
    assert written["ch_b#refund"][2:6] == (email_id("g@shop.test"), "refund",
                                           "2025-06-16T10:00:00Z", "ten")
    assert "ch_c" not in written
    assert "skipped, cannot be mapped: Status refunded without an Amount Refunded: 1" in out
    assert "written: Amount Refunded not a number: as exported (quarantined invalid_value): 1" \
        in out


# --- the whole path: import, build, marts ------------------------------------------------

@dataclass
class Built:
    """One fixture imported and built."""

    out: Path
    db: Path
    import_output: str
    build: subprocess.CompletedProcess[str]


class Builds:
    """Each fixture imported by the command line and built by ``retention build``, once, when
    a test first asks for it (``-k shopify`` builds only that one)."""

    def __init__(self, factory: pytest.TempPathFactory) -> None:
        self.factory, self.done = factory, {}

    def __getitem__(self, fmt: str) -> Built:
        if fmt not in self.done:
            extra = GENERIC_FIXTURE_ARGS if fmt == "generic" else []
            root = self.factory.mktemp(fmt)
            out = root / "landing"
            imported = subprocess.run(
                [sys.executable, "-m", "retention_warehouse.cli", "import", fmt,
                 str(FIXTURES / f"{fmt}.csv"), "--out", str(out), *extra], cwd=PROJECT_DIR,
                env={**os.environ, "RETENTION_HASH_KEY": TEST_HASH_KEY}, capture_output=True,
                text=True, check=False)
            assert imported.returncode == 0, imported.stderr
            build = retention_build(root, out, "--skip-quality")
            self.done[fmt] = Built(out, root / "warehouse.duckdb", imported.stdout, build)
        return self.done[fmt]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    return Builds(tmp_path_factory)


def orders(db: Path) -> dict[str, tuple]:
    return {row[0]: row[1:] for row in query(db, (
        "select order_id, order_status, ordered_at, sale_amount, refunded_amount, net_amount, "
        "is_purchase, items_count from marts.fct_orders"))}


def monthly(db: Path) -> dict[date, tuple]:
    return {row[0].date() if isinstance(row[0], datetime) else row[0]: row[1:]
            for row in query(db, "select period_start, purchases, net_revenue, new_customers, "
                                 "signups from marts.fct_retention_kpis where segment_type = "
                                 "'total' order by 1")}


def lifetime_revenue(db: Path) -> dict[str, Decimal]:
    return dict(query(db, "select customer_key, net_revenue from "
                          "marts.fct_customer_lifetime_value"))


def key(customer_id: str) -> str:
    """customer_key of a customer id (HMAC-SHA256 with the build's key, README Settings)."""
    return keyed_hash(customer_id, TEST_HASH_KEY)


D = Decimal


def test_generic_fixture_builds_to_the_hand_worked_marts(built: Builds) -> None:
    """generic.csv by hand (times are UTC: the format has no %z):
    R1 = 20.00 + 15.50 (1 + 2 items); R2 40.00 refunded 10.00 -> 30.00; R3 25.00; R4 60.00
    refunded in full -> net 0, not a purchase; R5 12.345 has three decimals: quarantined
    invalid_value; R6 is not in the date format: skipped by the importer; R7 45.00.
    March: R1, R2 (alice, bob new) 65.50; April: R3 25.00, nobody new (carol's R4 is no
    purchase); May: R7 45.00, carol new. No CRM: customers signed up at their first sale,
    alice and bob in March, carol in April (R4)."""
    run = built["generic"]
    ok(run.build)
    assert orders(run.db) == {
        "R1": ("completed", datetime(2025, 3, 5, 10), D("35.50"), D("0.00"), D("35.50"), True, 3),
        "R2": ("completed", datetime(2025, 3, 12, 18, 30), D("40.00"), D("10.00"), D("30.00"),
               True, 1),
        "R3": ("completed", datetime(2025, 4, 2, 11), D("25.00"), D("0.00"), D("25.00"), True, 1),
        "R4": ("completed", datetime(2025, 4, 15, 12), D("60.00"), D("60.00"), D("0.00"),
               False, 2),
        "R7": ("completed", datetime(2025, 5, 10, 16, 45), D("45.00"), D("0.00"), D("45.00"),
               True, 1)}
    assert monthly(run.db) == {date(2025, 3, 1): (2, D("65.50"), 2, 2),
                               date(2025, 4, 1): (1, D("25.00"), 0, 1),
                               date(2025, 5, 1): (1, D("45.00"), 1, 0)}
    assert lifetime_revenue(run.db) == {key("alice"): D("60.50"), key("bob"): D("30.00"),
                                        key("carol"): D("45.00")}
    assert query(run.db, f"select record_id, reason_code from {QUARANTINE}") == [
        ("R5#sale", "invalid_value")]
    assert "skipped, cannot be mapped: date not in --date-format %d/%m/%Y %H:%M: 1" in \
        run.import_output


def test_shopify_fixture_builds_to_the_hand_worked_marts(built: Builds) -> None:
    """shopify.csv by hand (Created at converted to UTC): #1001 Sat 2025-05-02 12:00 UTC, 20.00
    refunded in full -> no purchase; #1002 2025-05-10 13:00, 25.00 after the 2.00 discount,
    3 items; #1003 2025-05-31 22:30 -0400 = 2025-06-01 02:30 UTC: a June order; #1004
    2025-06-15 14:00, 65.00 - 15.00 = 50.00; #1005 cancelled (kept, no purchase); #1006
    pending: not imported. May: #1002 (ann new) 25.00; June: #1003 + #1004 = 90.00, bo new
    (his May order netted to zero). Signups (CRM = first written order): ann and bo in May,
    cara in June; cara bought nothing: a lead. Regions: US, CA north_america; DE
    western_europe. Consent from the latest order: ann yes, bo no, cara yes."""
    run = built["shopify"]
    ok(run.build)
    assert orders(run.db) == {
        "#1001": ("completed", datetime(2025, 5, 2, 12), D("20.00"), D("20.00"), D("0.00"),
                  False, 1),
        "#1002": ("completed", datetime(2025, 5, 10, 13), D("25.00"), D("0.00"), D("25.00"),
                  True, 3),
        "#1003": ("completed", datetime(2025, 6, 1, 2, 30), D("40.00"), D("0.00"), D("40.00"),
                  True, 1),
        "#1004": ("completed", datetime(2025, 6, 15, 14), D("65.00"), D("15.00"), D("50.00"),
                  True, 3),
        "#1005": ("cancelled", datetime(2025, 6, 18, 10), D("50.00"), D("0.00"), D("50.00"),
                  False, 2)}
    assert monthly(run.db) == {date(2025, 5, 1): (1, D("25.00"), 1, 2),
                               date(2025, 6, 1): (2, D("90.00"), 1, 1)}
    ann, bo, cara = (key(email_id(e)) for e in ("ann@shop.test", "bo@shop.test",
                                                 "cara@shop.test"))
    assert lifetime_revenue(run.db) == {ann: D("75.00"), bo: D("40.00")}
    customers = {row[0]: row[1:] for row in query(run.db, (
        "select customer_key, region, has_marketing_consent, is_lead from marts.dim_customers"))}
    assert customers == {ann: ("north_america", True, False), bo: ("north_america", False, False),
                         cara: ("western_europe", True, True)}
    assert query(run.db, f"select count(*) from {QUARANTINE}") == [(0,)]


def test_stripe_fixture_builds_to_the_hand_worked_marts(built: Builds) -> None:
    """stripe.csv by hand: ch_3Pq1 60.00 (May, cus_A new); ch_3Pq3 80.00 - 30.00 = 50.00
    and the guest's ch_3Pq4 20.00 (June, cus_B and the guest new); ch_3Pq5 45.50 refunded in
    full -> no purchase; ch_3Pq7 30.00 (July). The failed, uncaptured and test-mode charges
    are not sales. Lifetime: cus_A 60.00, cus_B 80.00, guest 20.00."""
    run = built["stripe"]
    ok(run.build)
    assert set(orders(run.db)) == {"ch_3Pq1", "ch_3Pq3", "ch_3Pq4", "ch_3Pq5", "ch_3Pq7"}
    assert orders(run.db)["ch_3Pq3"] == ("completed", datetime(2025, 6, 10, 8), D("80.00"),
                                         D("30.00"), D("50.00"), True, None)
    assert monthly(run.db) == {date(2025, 5, 1): (1, D("60.00"), 1, 1),
                               date(2025, 6, 1): (2, D("70.00"), 2, 2),
                               date(2025, 7, 1): (1, D("30.00"), 0, 0)}
    assert lifetime_revenue(run.db) == {key("cus_A"): D("60.00"), key("cus_B"): D("80.00"),
                                        key(email_id("guest@shop.test")): D("20.00")}
    assert query(run.db, f"select count(*) from {QUARANTINE}") == [(0,)]
