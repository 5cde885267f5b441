"""Staging loses no row, finds every injected defect, and keeps personal data out of the marts.

Expected counts come from the generator's manifest (what it injected), never
from the staging models under test. The failure tests break a copy of the
warehouse and prove the reconciliation and PII checks then fail.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from retention_warehouse.contract import RAW_TABLES

QUARANTINE = "staging.stg_quarantine__rejected_rows"

# Where each generated defect kind must land: (SQL counting the rows staging set aside or flagged).
DEFECT_LANDING: dict[str, str] = {
    "exact_duplicate_crm_customers": f"select sum(raw_rows) from {QUARANTINE} "
    "where source_table = 'crm_customers' and reason_code = 'exact_duplicate'",
    "exact_duplicate_transactions": f"select sum(raw_rows) from {QUARANTINE} "
    "where source_table = 'transactions' and reason_code = 'exact_duplicate'",
    "exact_duplicate_survey_responses": f"select sum(raw_rows) from {QUARANTINE} "
    "where source_table = 'survey_responses' and reason_code = 'exact_duplicate'",
    "duplicate_person": f"select count(*) from {QUARANTINE} "
    "where source_table = 'crm_customers' and reason_code = 'duplicate'",
    "test_account": "select count(*) from staging.stg_crm__customers where is_test_account",
    "second_date_format": "select count(*) from intermediate.int_transactions_linked "
    "where transaction_at_format = 'day_first'",
    "missing_offset": "select count(*) from intermediate.int_transactions_linked "
    "where transaction_at_format = 'iso_no_offset'",
    "missing_required_field_transactions": f"select count(*) from {QUARANTINE} "
    "where source_table = 'transactions' and reason_code = 'missing_required_field'",
    "missing_required_field_survey_invitations": f"select count(*) from {QUARANTINE} "
    "where source_table = 'survey_invitations' and reason_code = 'missing_required_field'",
}
for _reason in ("unparseable_date", "negative_amount", "unknown_currency", "missing_fx_rate",
                "refund_exceeds_order", "unknown_customer", "unknown_order"):
    DEFECT_LANDING[_reason] = (f"select count(*) from {QUARANTINE} "
                               f"where source_table = 'transactions' and reason_code = '{_reason}'")
for _reason in ("score_out_of_range", "unknown_invitation"):
    DEFECT_LANDING[_reason] = (f"select count(*) from {QUARANTINE} "
                               f"where source_table = 'survey_responses' "
                               f"and reason_code = '{_reason}'")

PII_NAMES = {column.name for table in RAW_TABLES for column in table.columns if column.pii}


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """The single value of a query (0 for NULL)."""
    value = con.execute(sql).fetchone()[0]
    return int(value or 0)


def test_every_defect_kind_lands_exactly_where_documented(warehouse) -> None:
    injected = warehouse.generator_manifest["defects"]
    assert set(injected) == set(DEFECT_LANDING), "a defect kind has no landing check"
    with warehouse.connect() as con:
        found = {kind: scalar(con, sql) for kind, sql in DEFECT_LANDING.items()}
        quarantined = scalar(con, f"select sum(raw_rows) from {QUARANTINE}")
    assert found == injected
    flagged = ("test_account", "second_date_format", "missing_offset")
    expected_quarantine = sum(n for kind, n in injected.items() if kind not in flagged)
    assert quarantined == expected_quarantine, "staging set aside rows nobody broke"


def test_every_raw_row_is_accounted_for(warehouse) -> None:
    """Raw rows (counted in the files by DuckDB) = clean staging rows + quarantined rows."""
    clean_models = {
        "crm_customers": ["staging.stg_crm__customers"],
        "crm_account_events": ["staging.stg_crm__account_events"],
        "transactions": ["intermediate.int_orders_accepted", "intermediate.int_refunds_accepted"],
        "survey_invitations": ["staging.stg_surveys__invitations"],
        "survey_responses": ["staging.stg_surveys__responses"],
        "marketing_spend": ["staging.stg_marketing__spend"],
    }
    with warehouse.connect() as con:
        for table, models in clean_models.items():
            raw = scalar(con, f"select count(*) from read_csv('{warehouse.raw_dir}/{table}/*.csv',"
                              " all_varchar = true)")
            assert raw == warehouse.generator_manifest["rows"][table]
            clean = sum(scalar(con, f"select count(*) from {m}") for m in models)
            quarantined = scalar(con, f"select sum(raw_rows) from {QUARANTINE} "
                                      f"where source_table = '{table}'")
            assert raw == clean + quarantined, table


def copy_of(warehouse, tmp_path: Path) -> dict[str, str]:
    """A throwaway copy of the warehouse file; returns the dbt env pointing at it."""
    copy = tmp_path / warehouse.db_path.name  # same name: views reference the catalog by it
    shutil.copyfile(warehouse.db_path, copy)
    # its own target folder: another warehouse file is another dbt profile, which would
    # throw away the session warehouse's partial parse (the next dbt run there parses anew)
    return {"RETENTION_DB": str(copy), "DBT_TARGET_PATH": str(tmp_path / "target"),
            "DBT_LOG_PATH": str(tmp_path / "logs")}


def test_reconciliation_test_fails_when_staging_drops_a_row(warehouse, tmp_path: Path) -> None:
    env = copy_of(warehouse, tmp_path)
    with duckdb.connect(env["RETENTION_DB"]) as con:
        con.execute("delete from intermediate.int_transactions_linked where transaction_id = ("
                    "select min(transaction_id) from intermediate.int_transactions_linked "
                    "where rejection_reason is null)")
    broken = warehouse.dbt("test", "--select", "test_name:raw_rows_reconcile", env=env)
    assert broken.returncode != 0
    failed = [line for line in broken.stdout.splitlines() if " FAIL " in line]
    assert len(failed) == 1 and "transactions" in failed[0], broken.stdout[-3000:]
    assert " FAIL 1 " in failed[0], (
        "the test must fail on the counts (one failing row), not error out")
    intact = warehouse.dbt("test", "--select", "test_name:raw_rows_reconcile")
    assert intact.returncode == 0, intact.stdout[-3000:]


def pii_exposures(con: duckdb.DuckDBPyConnection, raw_dir: Path, dbt_manifest: dict) -> list[str]:
    """Mart columns that hold personal data: by name, by PII meta, or by raw values."""
    problems = []
    mart_nodes = [n for n in dbt_manifest["nodes"].values()
                  if n["resource_type"] == "model" and n["schema"] == "marts"]
    for node in mart_nodes:
        for name, column in node["columns"].items():
            if (column.get("meta") or {}).get("contains_pii"):
                problems.append(f"{node['name']}.{name} is marked contains_pii")
    columns = con.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'marts'").fetchall()
    con.execute(
        f"create temp table raw_pii as select distinct lower(trim(email)) as value "
        f"from read_csv('{raw_dir}/crm_customers/*.csv', all_varchar = true) "
        f"where email is not null union select distinct trim(phone) "
        f"from read_csv('{raw_dir}/crm_customers/*.csv', all_varchar = true) "
        f"where phone is not null")
    for table, column, data_type in columns:
        if column.lower() in PII_NAMES:
            problems.append(f"marts.{table}.{column} is named like personal data")
        if data_type == "VARCHAR":
            hits = scalar(con, f'select count(*) from marts."{table}" '
                               f'where lower(trim("{column}")) in (select value from raw_pii)')
            if hits:
                problems.append(f"marts.{table}.{column} holds {hits} raw e-mails or phones")
    return problems


def test_no_mart_column_holds_personal_data(warehouse) -> None:
    manifest = warehouse.dbt_manifest
    source_pii = {name for source in manifest["sources"].values()
                  for name, column in source["columns"].items()
                  if (column.get("meta") or {}).get("contains_pii")}
    assert source_pii == PII_NAMES, "sources' contains_pii meta differs from the raw contract"
    with duckdb.connect(str(warehouse.db_path), read_only=True) as con:
        assert pii_exposures(con, warehouse.raw_dir, manifest) == []


def test_pii_check_fails_when_a_mart_exposes_an_email(warehouse, tmp_path: Path) -> None:
    env = copy_of(warehouse, tmp_path)
    with duckdb.connect(env["RETENTION_DB"]) as con:
        con.execute("alter table marts.dim_customers add column contact varchar")
        con.execute("update marts.dim_customers set contact = ("
                    "select min(email) from staging.stg_crm__customers)")
        problems = pii_exposures(con, warehouse.raw_dir, warehouse.dbt_manifest)
    assert any("dim_customers.contact" in p for p in problems), problems


def test_erased_customers_keep_orders_but_lose_personal_data(warehouse) -> None:
    with warehouse.connect() as con:
        erased = scalar(con, "select count(*) from staging.stg_crm__account_events "
                             "where event_type = 'erasure_request'")
        assert erased > 0, "the sample should hold erasure requests"
        leaked = scalar(con, "select count(*) from staging.stg_crm__customers where is_erased "
                             "and coalesce(email, phone, first_name, last_name, "
                             "cast(birth_date as varchar)) is not null")
        orders = scalar(con, "select count(*) from marts.fct_orders o join marts.dim_customers c "
                             "using (customer_key) where c.is_erased")
    assert leaked == 0
    assert orders > 0


def test_source_freshness_passes_at_the_data_date_and_fails_later(warehouse,
                                                                  tmp_path: Path) -> None:
    [(last,)] = warehouse.query(
        "select max(order_date) from intermediate.int_orders_accepted")
    # --vars runs in their own target folder: other vars throw away the partial parse
    env = {"DBT_TARGET_PATH": str(tmp_path / "target")}
    fresh = warehouse.dbt("source", "freshness", "--vars",
                          json.dumps({"as_of_date": last.isoformat()}), env=env)
    assert fresh.returncode == 0, fresh.stdout[-3000:]
    stale = warehouse.dbt("source", "freshness", "--vars", json.dumps({"as_of_date": "2026-06-30"}),
                          env=env)
    assert stale.returncode != 0
    assert "ERROR STALE" in stale.stdout


@pytest.mark.parametrize("table", ["transactions", "survey_responses"])
def test_a_raw_file_without_a_required_column_stops_the_build_naming_file_and_column(
        warehouse, tmp_path: Path, table: str) -> None:
    from retention_warehouse.landing import RawLandingError, preflight

    raw = tmp_path / "raw"
    shutil.copytree(warehouse.raw_dir, raw)
    bad = raw / table / "extra-batch.csv"
    contract = next(t for t in RAW_TABLES if t.name == table)
    renamed = contract.required_columns[1]
    bad.write_text(",".join(c if c != renamed else "oops" for c in contract.column_names) + "\n")
    with pytest.raises(RawLandingError,
                       match=rf"extra-batch\.csv: missing required column '{renamed}'"):
        preflight(raw, tmp_path / "w.duckdb")
