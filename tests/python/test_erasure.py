"""Erasure that erases, and keys nobody can recompute.

A small generated raw folder gets hand-written hostile rows (what a CRM really
sends): one person under two ids with the e-mail written differently, an older
version of her record, a rejected row of hers, her survey answers (one a
duplicate) and a sale; an erasure request naming her *second* id; a request
whose timestamp is unreadable; one dated after the as-of date; and a control
person who asked for nothing but shares a first name and birth date. It is
built with ``retention build`` (as-of date pinned), then every table and view
of every schema is scanned for the erased persons' personal values.

Which values must be gone is worked out here from the raw files alone (an id
named in an ``erasure_request`` row, every row sharing an e-mail or an id with
it), never from the models' flags. Values an erased person shares with someone
who did not ask (a first name) are not looked for. The ``raw`` schema is not
scanned: its views are windows onto the landing files, which the warehouse does
not own (docs/raw_data_contract.md, "Erasure").
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_DIR, BuiltWarehouse

from retention_warehouse.contract import RAW_TABLES_BY_NAME
from retention_warehouse.generate import generate
from retention_warehouse.pii import HASH_KEY_VARIABLE, resolve_hash_key, sample_hash_key

AS_OF = "2025-06-30"
RETENTION = [sys.executable, "-m", "retention_warehouse.cli"]
PERSONAL = ("email", "phone", "first_name", "last_name", "birth_date")

ADA, ADA_OTHER_ID, ADA_REJECTED, GRACE, LATE, KEEPER = (
    "C90000001", "C90000002", "C90000003", "C90000004", "C90000005", "C90000006")
HOSTILE_ROWS: dict[str, list[dict[str, str]]] = {
    "crm_customers": [
        {"customer_id": ADA, "email": "  Ada.Lovelace@Example.org ", "phone": "+441234567001",
         "first_name": "Ada", "last_name": "Lovelace", "birth_date": "1985-12-10",
         "country_code": "GB", "signup_at": "2024-02-01T10:00:00+00:00",
         "updated_at": "2024-05-01T10:00:00+00:00"},
        # an older version of the same record, with the e-mail she had then
        {"customer_id": ADA, "email": "ada.king@oldmail.example.net", "phone": "+441234567002",
         "first_name": "Ada", "last_name": "King", "birth_date": "1985-12-10",
         "country_code": "GB", "signup_at": "2024-02-01T10:00:00+00:00",
         "updated_at": "2024-03-01T10:00:00+00:00"},
        # the same person under a second id (same e-mail once normalised)
        {"customer_id": ADA_OTHER_ID, "email": "ada.lovelace@example.org",
         "phone": "+441234567003", "first_name": "Augusta", "last_name": "Byron",
         "birth_date": "1815-12-10", "country_code": "GB",
         "signup_at": "2024-04-01T10:00:00+00:00", "updated_at": "2024-04-01T10:00:00+00:00"},
        # a row of hers the quarantine rejects (unknown country)
        {"customer_id": ADA_REJECTED, "email": "ADA.LOVELACE@EXAMPLE.ORG",
         "phone": "+441234567004", "first_name": "Ada", "last_name": "Lovelace-Rejected",
         "birth_date": "1985-12-10", "country_code": "XX",
         "signup_at": "2024-04-02T10:00:00+00:00", "updated_at": "2024-04-02T10:00:00+00:00"},
        {"customer_id": GRACE, "email": "grace.hostile@example.org", "phone": "+15550000005",
         "first_name": "Gracehostile", "last_name": "Hopperhostile", "birth_date": "1906-12-09",
         "country_code": "US", "signup_at": "2024-01-15T10:00:00+00:00",
         "updated_at": "2024-01-15T10:00:00+00:00"},
        {"customer_id": LATE, "email": "late.eraser@example.org", "phone": "+15550000006",
         "first_name": "Lateera", "last_name": "Serwith", "birth_date": "1990-01-01",
         "country_code": "US", "signup_at": "2024-01-16T10:00:00+00:00",
         "updated_at": "2024-01-16T10:00:00+00:00"},
        # asked for nothing; shares Ada's first name and birth date
        {"customer_id": KEEPER, "email": "ada.keeps.data@example.org", "phone": "+15550000007",
         "first_name": "Ada", "last_name": "Keeper", "birth_date": "1985-12-10",
         "country_code": "US", "signup_at": "2024-01-17T10:00:00+00:00",
         "updated_at": "2024-01-17T10:00:00+00:00"},
    ],
    "crm_account_events": [
        {"event_id": "E90000001", "customer_id": ADA_OTHER_ID, "event_type": "erasure_request",
         "event_at": "2025-03-01T09:00:00+00:00"},
        {"event_id": "E90000002", "customer_id": GRACE, "event_type": "erasure_request",
         "event_at": "sometime last week"},
        {"event_id": "E90000003", "customer_id": LATE, "event_type": " Erasure_Request ",
         "event_at": "2025-09-01T09:00:00+00:00"},
    ],
    "survey_invitations": [
        {"invitation_id": "I900000001", "customer_id": ADA, "survey_type": "nps",
         "sent_at": "2024-06-01T10:00:00+00:00"},
        {"invitation_id": "I900000002", "customer_id": ADA_OTHER_ID, "survey_type": "csat",
         "sent_at": "2024-06-02T10:00:00+00:00"},
        {"invitation_id": "I900000003", "customer_id": KEEPER, "survey_type": "nps",
         "sent_at": "2024-06-03T10:00:00+00:00"},
        {"invitation_id": "I900000004", "customer_id": GRACE, "survey_type": "nps",
         "sent_at": "2024-06-04T10:00:00+00:00"},
    ],
    "survey_responses": [
        {"response_id": "R900000001", "invitation_id": "I900000001", "score": "9",
         "comment": "Ada here: my neighbour Charles knows my password",
         "responded_at": "2024-06-03T10:00:00+00:00"},
        {"response_id": "R900000002", "invitation_id": "I900000001", "score": "3",
         "comment": "Ada again, a second answer to the same survey",
         "responded_at": "2024-06-04T10:00:00+00:00"},
        {"response_id": "R900000003", "invitation_id": "I900000002", "score": "4",
         "comment": "Writing from my other account: I moved to 12 Hostile Lane",
         "responded_at": "2024-06-05T10:00:00+00:00"},
        {"response_id": "R900000004", "invitation_id": "I900000003", "score": "10",
         "comment": "The keeper's comment stays", "responded_at": "2024-06-05T10:00:00+00:00"},
        {"response_id": "R900000005", "invitation_id": "I900000004", "score": "8",
         "comment": "Grace wrote this before her unreadable erasure request",
         "responded_at": "2024-06-06T10:00:00+00:00"},
    ],
    "transactions": [
        {"transaction_id": "T9000000001", "order_id": "O9000000001", "customer_id": ADA_OTHER_ID,
         "transaction_type": "sale", "transaction_at": "2024-06-10T12:00:00+00:00",
         "amount": "120.00", "currency_code": "USD", "status": "completed",
         "sales_channel": "web", "items_count": "2"},
        {"transaction_id": "T9000000002", "order_id": "O9000000002", "customer_id": KEEPER,
         "transaction_type": "sale", "transaction_at": "2024-06-11T12:00:00+00:00",
         "amount": "50.00", "currency_code": "USD", "status": "completed",
         "sales_channel": "web", "items_count": "1"},
    ],
}
CRM_DEFAULTS = {"preferred_language": "en", "acquisition_channel": "organic",
                "referred_by_customer_id": "", "marketing_consent": "true",
                "is_test_account": "false"}


def write_hostile_rows(raw_dir: Path) -> None:
    """One extra batch file per raw table, in the contract's column order."""
    for table, rows in HOSTILE_ROWS.items():
        columns = RAW_TABLES_BY_NAME[table].column_names
        with (raw_dir / table / "hostile-00000.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, columns, restval="")
            writer.writeheader()
            for row in rows:
                writer.writerow({**(CRM_DEFAULTS if table == "crm_customers" else {}), **row})


def read_raw(raw_dir: Path, table: str) -> list[dict[str, str]]:
    """Every raw row of one table, as text."""
    rows: list[dict[str, str]] = []
    for path in sorted((raw_dir / table).glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def erased_and_kept_values(raw_dir: Path) -> tuple[set[str], set[str]]:
    """(personal values of people who asked for erasure, personal values of everyone else).

    From the raw files only: ids named in an erasure_request row, then every CRM row sharing
    an e-mail (trimmed, lower-cased) or an id with those, twice over; comments answering an
    invitation sent to one of their ids.
    """
    def norm(value: str | None) -> str:
        return (value or "").strip().lower()

    crm = read_raw(raw_dir, "crm_customers")
    ids = {norm(e["customer_id"]) for e in read_raw(raw_dir, "crm_account_events")
           if norm(e["event_type"]) == "erasure_request"}
    for _ in range(2):
        emails = {norm(r["email"]) for r in crm if norm(r["customer_id"]) in ids} - {""}
        ids |= {norm(r["customer_id"]) for r in crm if norm(r["email"]) in emails}
    erased_rows = [r for r in crm if norm(r["customer_id"]) in ids]
    kept_rows = [r for r in crm if norm(r["customer_id"]) not in ids]
    invited = {norm(i["invitation_id"]): norm(i["customer_id"])
               for i in read_raw(raw_dir, "survey_invitations")}
    responses = read_raw(raw_dir, "survey_responses")
    erased = {norm(r[c]) for r in erased_rows for c in PERSONAL}
    erased |= {norm(r["comment"]) for r in responses
               if invited.get(norm(r["invitation_id"])) in ids}
    kept = {norm(r[c]) for r in kept_rows for c in PERSONAL}
    kept |= {norm(r["comment"]) for r in responses
             if invited.get(norm(r["invitation_id"])) not in ids}
    return erased - {""}, kept - {""}


def relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every table and view of the warehouse file, as (schema, name)."""
    return con.execute("""
        select schema_name, table_name from duckdb_tables()
        where database_name = current_database() and not internal
        union
        select schema_name, view_name from duckdb_views()
        where database_name = current_database() and not internal
        order by 1, 2""").fetchall()


def scan_for(con: duckdb.DuckDBPyConnection, needles: set[str],
             skip_schemas: tuple[str, ...] = ("raw",)) -> list[str]:
    """``schema.relation.column: n rows`` for every cell equal to one of ``needles``
    (compared trimmed and lower-cased), in every table and view outside ``skip_schemas``."""
    found = []
    values = sorted(needles)
    for schema, name in relations(con):
        if schema in skip_schemas:
            continue
        columns = [c for (c,) in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database()"
            " and schema_name = ? and table_name = ?", [schema, name]).fetchall()]
        for column in columns:
            hits = con.execute(
                f'select count(*) from "{schema}"."{name}" '
                f'where list_contains(?, lower(trim(cast("{column}" as varchar))))',
                [values]).fetchone()[0]
            if hits:
                found.append(f"{schema}.{name}.{column}: {hits} rows")
    return found


@dataclass
class ErasureBuild:
    """The hostile warehouse and what the test needs to judge it."""

    raw_dir: Path
    db_path: Path
    build: subprocess.CompletedProcess[str]
    erased: set[str]
    kept: set[str]
    key: str

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-only connection to the built warehouse."""
        return duckdb.connect(str(self.db_path), read_only=True)


@pytest.fixture(scope="module")
def erasure(tmp_path_factory: pytest.TempPathFactory) -> ErasureBuild:
    """200 generated customers plus the hostile rows, built by `retention build`."""
    root = tmp_path_factory.mktemp("erasure")
    raw_dir = root / "raw"
    generate(raw_dir, customers=200, seed=11, fmt="csv")
    write_hostile_rows(raw_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("DBT_TARGET", HASH_KEY_VARIABLE)}
    env.update({"RETENTION_RAW_DIR": str(raw_dir), "RETENTION_DB": str(root / "wh.duckdb"),
                "RETENTION_RAW_FORMAT": "csv", "DBT_TARGET_PATH": str(root / "target"),
                "DBT_LOG_PATH": str(root / "logs"),
                # unit tests mock their inputs: the session build runs them, not this one
                "DBT_EXCLUDE_RESOURCE_TYPES": "unit_test"})
    build = subprocess.run([*RETENTION, "build", "--skip-quality", "--as-of-date", AS_OF],
                           cwd=PROJECT_DIR, env=env, capture_output=True, text=True, check=False)
    erased, kept = erased_and_kept_values(raw_dir)
    return ErasureBuild(raw_dir, root / "wh.duckdb", build, erased, kept,
                        resolve_hash_key(raw_dir, env))


def test_the_hostile_build_passes(erasure: ErasureBuild) -> None:
    """Including the dbt test erased_people_keep_no_personal_data."""
    assert erasure.build.returncode == 0, erasure.build.stdout[-5000:] + erasure.build.stderr
    assert "erased_people_keep_no_personal_data" in erasure.build.stdout


def test_no_schema_holds_personal_data_of_an_erased_person(erasure: ErasureBuild) -> None:
    needles = erasure.erased - erasure.kept
    # the hostile person's values are among them, under every id and spelling she used
    assert {"ada.lovelace@example.org", "ada.king@oldmail.example.net", "+441234567003",
            "lovelace-rejected", "byron", "1815-12-10", "gracehostile", "late.eraser@example.org",
            "writing from my other account: i moved to 12 hostile lane",
            "ada again, a second answer to the same survey",
            "grace wrote this before her unreadable erasure request"} <= needles
    assert "ada" not in needles and "1985-12-10" not in needles  # shared with the keeper
    with erasure.connect() as con:
        schemas = {schema for schema, _ in relations(con)}
        assert {"staging", "intermediate", "marts", "snapshots", "reference"} <= schemas
        assert scan_for(con, needles) == []


def test_the_scan_finds_a_personal_column_left_in_place(erasure: ErasureBuild,
                                                        tmp_path: Path) -> None:
    """The scan can fail: put one erased phone back into a copy of the staging table."""
    copy = tmp_path / erasure.db_path.name
    shutil.copyfile(erasure.db_path, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("update staging.base_crm__customers set phone = '+441234567003' "
                    f"where customer_id = '{ADA_OTHER_ID}'")
        assert scan_for(con, erasure.erased - erasure.kept) == [
            "staging.base_crm__customers.phone: 1 rows"]


def test_erased_people_keep_their_orders_and_others_keep_their_data(
        erasure: ErasureBuild) -> None:
    ada_key = hmac.new(erasure.key.encode(), ADA.encode(), hashlib.sha256).hexdigest()
    with erasure.connect() as con:
        orders = con.execute("select count(*) from marts.fct_orders where customer_key = ?",
                             [ada_key]).fetchone()[0]
        flags = dict(con.execute(
            "select customer_id, is_erased from staging.stg_crm__customers "
            f"where customer_id in ('{ADA}', '{GRACE}', '{LATE}', '{KEEPER}')").fetchall())
        keeper = con.execute("select email, first_name from staging.stg_crm__customers "
                             f"where customer_id = '{KEEPER}'").fetchone()
        comments = {c for (c,) in con.execute(
            "select comment from staging.stg_surveys__responses where comment is not null"
        ).fetchall()}
    assert orders == 1  # the sale under her second id, re-keyed to the survivor
    # is_erased (a metric input) counts clean requests; the unreadable one still blanks data
    assert flags == {ADA: True, GRACE: False, LATE: True, KEEPER: False}
    assert keeper == ("ada.keeps.data@example.org", "Ada")
    assert "The keeper's comment stays" in comments


def test_customer_key_is_keyed_and_cannot_be_recomputed_from_the_id(
        erasure: ErasureBuild) -> None:
    with erasure.connect() as con:
        keys = {k for (k,) in con.execute(
            "select customer_key from marts.dim_customers").fetchall()}
        ids = [i for (i,) in con.execute(
            "select customer_id from staging.stg_crm__customers").fetchall()]
    plain = {hashlib.sha256(i.encode()).hexdigest() for i in ids}
    keyed = {hmac.new(erasure.key.encode(), i.encode(), hashlib.sha256).hexdigest() for i in ids}
    assert keys and not keys & plain, "customer_key is an unkeyed hash of the id"
    assert keys <= keyed


def test_no_view_keeps_the_hash_key(erasure: ErasureBuild) -> None:
    """hash_pii puts the key (padded) into SQL: only tables may use it, never views."""
    key = erasure.key.encode().ljust(64, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()
    with erasure.connect() as con:
        view_sql = [s for (s,) in con.execute(
            "select sql from duckdb_views() where not internal").fetchall()]
    assert view_sql
    assert not [s for s in view_sql if inner in s or outer in s or erasure.key in s]


def test_the_session_sample_holds_no_erased_personal_data(warehouse: BuiltWarehouse) -> None:
    """The generator's own erasure requests, on the 2,000-customer sample."""
    erased, kept = erased_and_kept_values(warehouse.raw_dir)
    assert erased - kept, "the sample should hold erasure requests"
    with warehouse.connect() as con:
        assert scan_for(con, erased - kept) == []


def test_hmac_macro_matches_rfc_4231_and_python(warehouse: BuiltWarehouse,
                                                tmp_path: Path) -> None:
    cases = ["what do ya want for nothing?", "Zoë Ångström ✓", "C00000042"]
    values = ", ".join(f"('{case}')" for case in cases)
    sql = (f"select v, {{{{ hmac_sha256('v', 'Jefe') }}}} as jefe, {{{{ hash_pii('v') }}}} as pii "
           f"from (values {values}) as cases (v)")
    result = warehouse.dbt("show", "--inline", sql, "--output", "json", "--quiet",
                           env={"RETENTION_DB": str(tmp_path / "show.duckdb"),
                                "DBT_TARGET_PATH": str(tmp_path / "target")})
    assert result.returncode == 0, result.stdout[-3000:]
    rows = {r["v"]: r for r in json.loads(result.stdout[result.stdout.index("{"):])["show"]}
    # RFC 4231, test case 2
    assert rows["what do ya want for nothing?"]["jefe"] == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    key = resolve_hash_key(warehouse.raw_dir).encode()
    for case in cases:
        assert rows[case]["jefe"] == hmac.new(b"Jefe", case.encode(), hashlib.sha256).hexdigest()
        assert rows[case]["pii"] == hmac.new(key, case.encode(), hashlib.sha256).hexdigest()


def without_manifest(raw_dir: Path, target: Path) -> Path:
    """A copy of a generated raw folder that no longer says it was generated (real data)."""
    shutil.copytree(raw_dir, target, ignore=shutil.ignore_patterns("_*.json"))
    return target


def test_real_data_without_a_hash_key_stops_the_build_in_one_line(
        erasure: ErasureBuild, tmp_path: Path) -> None:
    raw = without_manifest(erasure.raw_dir, tmp_path / "real")
    env = {k: v for k, v in os.environ.items() if k != HASH_KEY_VARIABLE}
    env.update({"RETENTION_RAW_DIR": str(raw), "RETENTION_DB": str(tmp_path / "wh.duckdb"),
                "DBT_TARGET_PATH": str(tmp_path / "target"), "DBT_LOG_PATH": str(tmp_path / "l")})
    for key, expected in ((None, "RETENTION_HASH_KEY is not set"),
                          ("too-short", "must be 32 to 64 bytes long (it is 9)")):
        run_env = env if key is None else {**env, HASH_KEY_VARIABLE: key}
        result = subprocess.run([*RETENTION, "build", "--skip-quality"], cwd=PROJECT_DIR,
                                env=run_env, capture_output=True, text=True, check=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
            next(line for line in result.stderr.splitlines() if expected in line)]
    # dbt by hand stops at its on-run-start hook, before any key is made
    by_hand = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run", "--select", "metricflow_time_spine"],
        cwd=PROJECT_DIR, env={**env, "DBT_PROFILES_DIR": str(PROJECT_DIR)},
        capture_output=True, text=True, check=False)
    assert by_hand.returncode != 0
    assert "RETENTION_HASH_KEY is not set" in by_hand.stdout, by_hand.stdout[-3000:]
    assert not (tmp_path / "target" / "run").exists() or not list(
        (tmp_path / "target" / "run").rglob("*.sql"))


def test_the_sample_key_is_documented_and_long_enough() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    assert HASH_KEY_VARIABLE in readme and sample_hash_key() in readme
    assert 32 <= len(sample_hash_key().encode()) <= 64
