"""The generator: deterministic, contract-shaped, defects at their documented rates.

Rates are checked against counts recomputed from the written files (not from
the manifest alone), so a generator that miscounts or mis-injects fails here.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pytest

from retention_warehouse.contract import GENERATED_TABLES, RAW_TABLES
from retention_warehouse.generate import generate
from retention_warehouse.generate.defects import DEFECTS, DEFECTS_BY_KIND
from retention_warehouse.generate.fx import write_fx_seed

PROJECT_DIR = Path(__file__).resolve().parents[2]
CUSTOMERS = 20_000


def digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every data file under ``folder`` (not the manifest: it holds timings)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.glob("*/*.*"))}


def read_table(folder: Path, table: str) -> list[dict[str, str]]:
    """All rows of one raw table (CSV) as dicts of text."""
    rows: list[dict[str, str]] = []
    for path in sorted((folder / table).glob("*.csv")):
        with path.open(newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """20,000 customers, seed 7: enough rows for every defect rate to be measurable."""
    out = tmp_path_factory.mktemp("generated")
    return out, generate(out, customers=CUSTOMERS, seed=7)


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", customers=1_500, seed=11)
    second = generate(tmp_path / "b", customers=1_500, seed=11)
    generate(tmp_path / "c", customers=1_500, seed=12)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert first["defects"] == second["defects"]
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_parquet_holds_the_same_rows_as_csv(tmp_path: Path) -> None:
    generate(tmp_path / "csv", customers=1_000, seed=3, fmt="csv")
    generate(tmp_path / "parquet", customers=1_000, seed=3, fmt="parquet")
    con = duckdb.connect()
    for table in GENERATED_TABLES:
        from_csv = con.execute(
            f"select * from read_csv('{tmp_path}/csv/{table.name}/*.csv', all_varchar=true) "
            "order by all").fetchall()
        from_parquet = con.execute(
            f"select * from read_parquet('{tmp_path}/parquet/{table.name}/*.parquet') "
            "order by all").fetchall()
        assert from_csv == from_parquet, table.name


def test_files_have_exactly_the_contract_columns(generated: tuple[Path, dict]) -> None:
    folder, _ = generated
    assert not (folder / "fx_rates").exists(), "the generator writes no fx_rates (seed rates)"
    for table in GENERATED_TABLES:
        files = sorted((folder / table.name).glob("*.csv"))
        assert files, f"no files for {table.name}"
        for path in files:
            with path.open(newline="") as handle:
                assert next(csv.reader(handle)) == table.column_names, path


def test_contract_document_lists_every_column() -> None:
    """docs/raw_data_contract.md documents each table and each column the generator writes."""
    text = (PROJECT_DIR / "docs" / "raw_data_contract.md").read_text()
    for table in RAW_TABLES:
        section = text.split(f"### `{table.name}`", 1)
        assert len(section) == 2, f"no section for {table.name}"
        body = re.split(r"\n##+ ", section[1], maxsplit=1)[0]
        documented = re.findall(r"^\| `([a-z_]+)` \|", body, flags=re.MULTILINE)
        assert documented == table.column_names, table.name
        for column in table.columns:
            row = re.search(rf"^\| `{column.name}` \|.*$", body, flags=re.MULTILINE)
            assert row and ("yes" in row.group(0).split("|")[-2]) == column.pii, (
                f"{table.name}.{column.name}: personal-data flag differs from the contract")
    for defect in DEFECTS:
        assert f"`{defect.kind}`" in text, f"defect {defect.kind} is not documented"


def recount(folder: Path) -> tuple[Counter, dict[str, int]]:
    """Count defects and their bases from the files alone."""
    customers = read_table(folder, "crm_customers")
    transactions = read_table(folder, "transactions")
    invitations = read_table(folder, "survey_invitations")
    responses = read_table(folder, "survey_responses")
    found: Counter = Counter()

    def copies(rows: list[dict[str, str]]) -> int:
        return sum(n - 1 for n in Counter(tuple(r.values()) for r in rows).values())

    found["exact_duplicate_crm_customers"] = copies(customers)
    found["exact_duplicate_transactions"] = copies(transactions)
    found["exact_duplicate_survey_responses"] = copies(responses)
    unique_customers = {tuple(r.values()): r for r in customers}.values()
    emails = Counter(r["email"].strip().lower() for r in unique_customers)
    found["duplicate_person"] = sum(n - 1 for n in emails.values())
    found["test_account"] = sum(r["is_test_account"] == "true" for r in unique_customers)
    known_customers = {r["customer_id"] for r in customers}
    unique_txns = list({tuple(r.values()): r for r in transactions}.values())
    sales = {r["order_id"]: r for r in unique_txns if r["transaction_type"] == "sale"}
    sale_rows = [r for r in unique_txns if r["transaction_type"] == "sale"]
    refunds = [r for r in unique_txns if r["transaction_type"] == "refund"]
    for row in unique_txns:
        at = row["transaction_at"]
        if not all(row[c] for c in ("customer_id", "amount", "currency_code", "transaction_at")):
            found["missing_required_field_transactions"] += 1
        elif re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d [+-]\d{4}", at):
            found["second_date_format"] += 1
        elif re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", at):
            found["missing_offset"] += 1
        elif not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", at):
            found["unparseable_date"] += 1
        elif row["amount"].startswith("-"):
            found["negative_amount"] += 1
        elif row["currency_code"] == "ZZZ":
            found["unknown_currency"] += 1
        elif row["currency_code"] == "CHF" and at < "2024-01-01":
            found["missing_fx_rate"] += 1
        elif row["customer_id"] not in known_customers:
            found["unknown_customer"] += 1
        elif row["transaction_type"] == "refund" and row["order_id"] not in sales:
            found["unknown_order"] += 1
        elif (row["transaction_type"] == "refund"
              and float(row["amount"]) > float(sales[row["order_id"]]["amount"])):
            found["refund_exceeds_order"] += 1
    invitation_types = {r["invitation_id"]: r["survey_type"] for r in invitations}
    found["missing_required_field_survey_invitations"] = sum(
        not r["survey_type"] or not r["sent_at"] for r in invitations)
    unique_responses = list({tuple(r.values()): r for r in responses}.values())
    limits = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    for row in unique_responses:
        kind = invitation_types.get(row["invitation_id"])
        if kind is None:
            found["unknown_invitation"] += 1
        elif kind in limits and not limits[kind][0] <= int(row["score"]) <= limits[kind][1]:
            found["score_out_of_range"] += 1
    scored = sum(invitation_types.get(r["invitation_id"]) in limits for r in unique_responses)
    bases = {
        "customers": len(emails),
        "transactions": len(unique_txns),
        "sales": len(sale_rows),
        "sales before 2024-01-01": sum(r["transaction_at"][:4] == "2023" for r in sale_rows),
        "refunds": len(refunds),
        "unanswered invitations": len(invitations) - len(unique_responses),
        "responses": len(unique_responses),
        "nps, csat and ces responses": scored,
    }
    return found, bases


def test_every_defect_kind_appears_at_its_documented_rate(generated: tuple[Path, dict]) -> None:
    folder, manifest = generated
    found, bases = recount(folder)
    for kind, count in manifest["defects"].items():
        defect = DEFECTS_BY_KIND[kind]
        assert found[kind] == count, f"{kind}: manifest says {count}, files hold {found[kind]}"
        assert count > 0, f"{kind} never injected"
        expected = defect.rate * bases[defect.base]
        # Binomial counts: allow four standard deviations around the documented rate.
        tolerance = 4 * expected ** 0.5 + 2
        assert abs(count - expected) <= tolerance, (
            f"{kind}: {count} injected, {expected:.0f} expected at rate {defect.rate} "
            f"of {bases[defect.base]} {defect.base}")


def test_retention_behaviour_is_present(generated: tuple[Path, dict]) -> None:
    """Refunds, cancellations, several currencies, referrals, exit reasons, seasonality."""
    folder, _ = generated
    txns = read_table(folder, "transactions")
    assert {r["currency_code"] for r in txns} >= {"USD", "EUR", "GBP", "SEK", "PLN", "CAD",
                                                  "AUD", "CHF"}
    assert Counter(r["transaction_type"] for r in txns)["refund"] > 0.02 * len(txns)
    assert Counter(r["status"] for r in txns)["cancelled"] > 0.01 * len(txns)
    months = Counter(r["transaction_at"][5:7] for r in txns if r["transaction_at"][:4] == "2024")
    assert months["12"] > 1.2 * months["07"], "no holiday peak"
    customers = read_table(folder, "crm_customers")
    referred = [r for r in customers if r["referred_by_customer_id"]]
    assert len(referred) > 0.05 * len(customers)
    ids = {r["customer_id"] for r in customers}
    assert all(r["referred_by_customer_id"] in ids for r in referred)
    responses = read_table(folder, "survey_responses")
    reasons = Counter(r["exit_reason_code"] for r in responses if r["exit_reason_code"])
    service = sum(reasons[c] for c in ("rude_staff", "ignored_complaint", "slow_support"))
    assert service > max(reasons["too_expensive"] + reasons["found_cheaper"],
                         reasons["poor_quality"] + reasons["narrow_range"])


def test_daily_slices_add_up_to_the_full_period(tmp_path: Path) -> None:
    full = generate(tmp_path / "full", customers=1_000, seed=5)
    days = [date(2025, 12, 29), date(2025, 12, 30), date(2025, 12, 31), date(2026, 1, 1)]
    history = generate(tmp_path / "sliced", customers=1_000, seed=5, through=days[0])
    rows = Counter(history["rows"])
    for day, next_day in zip(days, days[1:], strict=False):
        batch = generate(tmp_path / "sliced", customers=1_000, seed=5, since=day,
                         through=next_day, prefix=f"landed-{day}")
        rows.update(batch["rows"])
    # A CRM row lands when the customer signs up and again, unchanged, in the window of
    # its last update: the slices hold every full-period row, some of them twice.
    resent = rows.pop("crm_customers") - full["rows"]["crm_customers"]
    assert dict(rows) == {k: v for k, v in full["rows"].items() if k != "crm_customers"}
    assert resent > 0
    con = duckdb.connect()
    for table in GENERATED_TABLES:
        distinct = "distinct" if table.name == "crm_customers" else ""
        whole, parts = (con.execute(
            f"select {distinct} * from read_csv('{tmp_path}/{name}/{table.name}/*.csv', "
            "all_varchar=true) order by all").fetchall() for name in ("full", "sliced"))
        assert whole == parts, table.name
    sent = con.execute(
        f"select count(*), count(distinct customer_id), max(copies) from (select customer_id, "
        f"count(*) over (partition by customer_id, email) as copies from "
        f"read_csv('{tmp_path}/sliced/crm_customers/*.csv', all_varchar=true))").fetchone()
    assert sent[0] == full["rows"]["crm_customers"] + resent and sent[2] <= 2


def test_fx_seed_in_the_repo_is_what_the_generator_converts_with(tmp_path: Path) -> None:
    write_fx_seed(tmp_path / "fx_rates.csv")
    assert (tmp_path / "fx_rates.csv").read_bytes() == (
        PROJECT_DIR / "seeds" / "fx_rates.csv").read_bytes()


def test_bad_arguments_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        generate(tmp_path, customers=10, fmt="xlsx")
    with pytest.raises(ValueError, match="customers"):
        generate(tmp_path, customers=0)


def test_manifest_is_written(generated: tuple[Path, dict]) -> None:
    folder, manifest = generated
    on_disk = json.loads((folder / "_manifest.json").read_text())
    assert on_disk["rows"] == manifest["rows"]
    assert on_disk["customers"] == CUSTOMERS
    assert sum(on_disk["bytes"].values()) == sum(
        p.stat().st_size for p in folder.glob("*/*.csv"))
