"""`retention refresh`: incremental equals full, interruption, idempotency, write-audit-publish.

One history is played once per module on 1,000 generated customers:

1. the first refresh lands everything before DAY0 (minus a few rows held back)
   and publishes a full build;
2. DAY0 lands with the held-back rows arriving late (old sales, refunds of old
   orders, CRM rows of customers who already bought) and three edits of history
   (a full refund of a 2024 order that was its buyer's only purchase, a CRM
   person who turns out to be a duplicate of an older account and is merged into
   it, an erasure request dated months back), while a BI reader holds a read-only
   connection to the published file;
3. a corrupt file (not UTF-8) makes a refresh fail: the published file is untouched;
4. DAY1 lands with a re-sent copy of DAY0's ledger file; its refresh is killed
   in the middle of ``dbt build``; the published file is untouched and the
   rerun recovers;
5. the same day is refreshed again (it must change nothing);
6. a clean ``dbt build`` of the final landing folder into a new file.

The tests compare the results of those steps; every mart (tables and views) and
every incremental model must match the clean build row for row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import PROJECT_DIR

from retention_warehouse.dbt_runner import dbt_executable
from retention_warehouse.pii import keyed_hash, sample_hash_key
from retention_warehouse.refresh import lock_path, refresh_lock, staging_dir
from retention_warehouse.settings import Settings, dbt_environment

CUSTOMERS = 1_000
SEED = 42
DAY0 = date(2025, 12, 20)
DAY1 = DAY0 + timedelta(days=1)
LATE_ROWS = 40
LATE_REFUND_ID = "T9000000001"
MERGED_INTO_ID = "C09990001"
ERASURE_EVENT_ID = "E99990001"
ERASURE_DATE = date(2025, 6, 1)
# The incremental models and the column each run stamps (left out of the comparison).
INCREMENTAL_MODELS = {
    "intermediate.int_orders_netted": "refreshed_at",
    "intermediate.int_customers_months_purchased": "refreshed_at",
    "intermediate.int_customers_months_tiered": "refreshed_at",
    "intermediate.int_customers_periods_stated": "refreshed_at",
}


def sha256(path: Path) -> str:
    """Hash of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mart_tables(db: Path) -> list[str]:
    """Every relation of the marts schema, tables and views."""
    with duckdb.connect(str(db), read_only=True) as con:
        return [name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
            " order by 1").fetchall()]


def export_marts(db: Path, folder: Path) -> list[str]:
    """Every mart of ``db`` written to ``folder/<mart>.parquet``; the mart names.

    Each warehouse is read through its own connection: a view refers to the
    catalog named after its file, so a view read from an attached copy with the
    same file name would read the wrong warehouse.
    """
    folder.mkdir(parents=True, exist_ok=True)
    names = mart_tables(db)
    with duckdb.connect(str(db), read_only=True) as con:
        for name in names:
            con.execute(f"copy (select * from marts.{name}) to '{folder / name}.parquet' "
                        "(format parquet)")
    return names


def mart_differences(left: Path, right: Path) -> dict[str, tuple[int, int, int]]:
    """Per mart (table or view): (rows only in left, rows only in right, rows in right)."""
    with tempfile.TemporaryDirectory() as folder:
        left_names = export_marts(left, Path(folder) / "left")
        right_names = export_marts(right, Path(folder) / "right")
        assert left_names == right_names, (left_names, right_names)
        result = {}
        with duckdb.connect() as con:
            for name in right_names:
                one, two = (f"read_parquet('{folder}/{side}/{name}.parquet')"
                            for side in ("left", "right"))
                only_left = con.execute(
                    f"select count(*) from (select * from {one} except all "
                    f"select * from {two})").fetchone()[0]
                only_right = con.execute(
                    f"select count(*) from (select * from {two} except all "
                    f"select * from {one})").fetchone()[0]
                rows = con.execute(f"select count(*) from {two}").fetchone()[0]
                result[name] = (only_left, only_right, rows)
    return result


@dataclass
class LateEdits:
    """The history edits landed with DAY0 (see the module docstring)."""

    refunded_customer: str = ""
    refunded_order: str = ""
    merged_customer: str = ""
    erased_customer: str = ""


def customer_key(customer_id: str) -> str:
    """The mart's customer_key: HMAC-SHA256 of the CRM id under the generated data's public
    sample key (docs/raw_data_contract.md, "Personal data")."""
    return keyed_hash(customer_id, sample_hash_key())


def write_rows(raw_dir: Path, table: str, name: str, rows: list[dict[str, str]]) -> None:
    """A new landing file of ``table`` holding ``rows`` (missing columns blank)."""
    existing = next((raw_dir / table).glob("landed-initial-*.csv"))
    with existing.open(newline="") as handle:
        header = next(csv.reader(handle))
    with (raw_dir / table / name).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows({column: row.get(column, "") for column in header} for row in rows)


def land_history_edits(raw_dir: Path, avoid: set[str]) -> LateEdits:
    """Land the three edits of history with DAY0: a late full refund, a merge, an erasure."""
    ledger = f"read_csv('{raw_dir}/transactions/*.csv', all_varchar = true)"
    crm = f"read_csv('{raw_dir}/crm_customers/*.csv', all_varchar = true)"
    events = f"read_csv('{raw_dir}/crm_account_events/*.csv', all_varchar = true)"
    excluded = ", ".join(f"'{c}'" for c in avoid) or "''"
    edits = LateEdits()
    with duckdb.connect() as con:
        real = (f"customer_id in (select customer_id from {crm} where is_test_account = 'false')"
                f" and customer_id not in ({excluded})")
        # A customer whose whole ledger is one completed 2024 sale.
        sale = con.execute(f"""
            select * from {ledger}
            where transaction_type = 'sale' and status = 'completed'
              and transaction_at like '2024-%T%' and {real}
              and customer_id in (select customer_id from {ledger}
                                  group by customer_id having count(*) = 1)
            order by hash(order_id) limit 1""").df().iloc[0].to_dict()
        # A buyer with at least three sales, whose CRM row has an ISO signup time.
        merged = con.execute(f"""
            select * from {crm}
            where signup_at like '____-__-__T%' and email like '%@%' and {real}
              and customer_id != '{sale["customer_id"]}'
              and customer_id in (select customer_id from {ledger}
                                  where transaction_type = 'sale'
                                  group by customer_id having count(*) >= 3)
            order by hash(customer_id) limit 1""").df().iloc[0].to_dict()
        # A buyer active on both sides of ERASURE_DATE, with no account event yet.
        erased = con.execute(f"""
            select customer_id from {ledger}
            where transaction_type = 'sale' and {real}
              and customer_id not in ('{sale["customer_id"]}', '{merged["customer_id"]}')
              and customer_id not in (select customer_id from {events})
            group by customer_id
            having min(transaction_at) like '2024-%' and max(transaction_at) like '2025-1%'
            order by hash(customer_id) limit 1""").fetchone()[0]
    # Dated the day before DAY0 (after the first refresh's as-of date), landing with DAY0.
    write_rows(raw_dir, "transactions", "late-refund-00000.csv", [{
        **sale, "transaction_id": LATE_REFUND_ID, "transaction_type": "refund",
        "transaction_at": f"{DAY0 - timedelta(days=1)}T10:00:00+00:00"}])
    signup = datetime.fromisoformat(merged["signup_at"]) - timedelta(days=30)
    write_rows(raw_dir, "crm_customers", "late-merge-00000.csv", [{
        **merged, "customer_id": MERGED_INTO_ID, "signup_at": signup.isoformat(),
        "updated_at": f"{DAY0}T09:00:00+00:00"}])
    write_rows(raw_dir, "crm_account_events", "late-erasure-00000.csv", [{
        "event_id": ERASURE_EVENT_ID, "customer_id": erased, "event_type": "erasure_request",
        "event_at": f"{ERASURE_DATE}T08:00:00+00:00"}])
    edits.refunded_customer, edits.refunded_order = sale["customer_id"], sale["order_id"]
    edits.merged_customer, edits.erased_customer = merged["customer_id"], erased
    return edits


@dataclass
class History:
    """What the played refresh history produced."""

    root: Path
    raw_dir: Path
    published: Path
    full_build: Path
    late_transaction_ids: list[str] = field(default_factory=list)
    late_customer_ids: list[str] = field(default_factory=list)
    runs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    reader: dict[str, object] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    killed_midway: bool = False
    snapshots: dict[str, Path] = field(default_factory=dict)
    edits: LateEdits = field(default_factory=LateEdits)


# One dbt thread and one DuckDB thread: on 1,000 customers the parallelism only costs
# CPU (the suite runs on two cores). Kept the same for every run, so partial parsing holds.
TINY_DATA = {"DBT_THREADS": "1", "RETENTION_DUCKDB_THREADS": "1"}


def refresh_env(root: Path) -> dict[str, str]:
    """Environment of a `retention refresh` subprocess on this test's folders."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_TARGET")}
    env.update({"RETENTION_DB": str(root / "wh.duckdb"), "RETENTION_RAW_DIR": str(root / "raw"),
                "RETENTION_RAW_FORMAT": "csv", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                **TINY_DATA})
    return env


def refresh_command(through: date) -> list[str]:
    """The refresh command line used throughout (landing generated days)."""
    return [sys.executable, "-m", "retention_warehouse.cli", "refresh", "--through",
            through.isoformat(), "--land-generated", str(CUSTOMERS), "--seed", str(SEED),
            "--skip-quality"]


def run_refresh(root: Path, through: date) -> subprocess.CompletedProcess[str]:
    """Run one refresh to completion."""
    return subprocess.run(refresh_command(through), cwd=PROJECT_DIR, env=refresh_env(root),
                          capture_output=True, text=True, check=False)


def hold_back(raw_dir: Path, table: str, column: str, keep_out: set[str],
              late_name: str) -> None:
    """Move the rows whose ``column`` is in ``keep_out`` from the landed files to a
    file written later (``late_name``), so they arrive after the day they belong to."""
    folder = raw_dir / table
    late_rows: list[dict[str, str]] = []
    header: list[str] = []
    for path in sorted(folder.glob("landed-initial-*.csv")):
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            header = list(reader.fieldnames or [])
            rows = list(reader)
        late_rows += [row for row in rows if row[column] in keep_out]
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, header)
            writer.writeheader()
            writer.writerows(row for row in rows if row[column] not in keep_out)
    pending = raw_dir.parent / "pending" / table
    pending.mkdir(parents=True, exist_ok=True)
    with (pending / late_name).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(late_rows)


def choose_late_rows(raw_dir: Path) -> tuple[list[str], list[str]]:
    """Old ledger rows (sales and refunds of orders months back) and CRM rows of
    customers who bought before DAY0, to be delivered late."""
    pattern = str(raw_dir / "transactions" / "*.csv")
    with duckdb.connect() as con:
        transactions = [tid for (tid,) in con.execute(f"""
            select transaction_id from read_csv('{pattern}', all_varchar = true)
            where left(transaction_at, 7) between '2024-01' and '2025-06'
            order by hash(transaction_id) limit {LATE_ROWS}""").fetchall()]
        customers = [cid for (cid,) in con.execute(f"""
            select customer_id from read_csv('{pattern}', all_varchar = true)
            where customer_id is not null and left(transaction_at, 4) = '2025'
            group by customer_id order by hash(customer_id) limit 5""").fetchall()]
    return transactions, customers


def kill_midway(root: Path, through: date) -> bool:
    """Start a refresh and kill its whole process tree during ``dbt build``.

    Returns True when it was killed while dbt was building models (not before,
    not after publishing).
    """
    log = root / ".wh.refresh-dbt" / "logs" / "dbt.log"
    start = log.stat().st_size if log.exists() else 0
    process = subprocess.Popen(refresh_command(through), cwd=PROJECT_DIR, env=refresh_env(root),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 600
    midway = False
    while time.monotonic() < deadline and process.poll() is None:
        text = log.read_text(errors="replace")[start:] if log.exists() else ""
        if "OK created sql incremental model intermediate.int_transactions_linked" in text:
            midway = True
            break
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return midway and process.returncode == -signal.SIGKILL


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """Play the refresh history described in the module docstring."""
    root = tmp_path_factory.mktemp("refresh")
    raw_dir = root / "raw"
    h = History(root=root, raw_dir=raw_dir, published=root / "wh.duckdb",
                full_build=root / "full" / "wh.duckdb")

    # 1. initial landing, with some rows held back to arrive late
    from retention_warehouse.refresh import land_generated

    land_generated(raw_dir, DAY0, CUSTOMERS, SEED)
    h.late_transaction_ids, h.late_customer_ids = choose_late_rows(raw_dir)
    hold_back(raw_dir, "transactions", "transaction_id", set(h.late_transaction_ids),
              "late-transactions.csv")
    hold_back(raw_dir, "crm_customers", "customer_id", set(h.late_customer_ids),
              "late-customers.csv")
    h.runs["initial"] = run_refresh(root, DAY0)
    h.snapshots["initial"] = root / "after-initial.duckdb"
    shutil.copyfile(h.published, h.snapshots["initial"])

    # 2. DAY0 plus the late rows and the edits of history, with a BI reader connected
    for table in ("transactions", "crm_customers"):
        for late in (root / "pending" / table).glob("*.csv"):
            shutil.move(late, raw_dir / table / late.name)
    h.edits = land_history_edits(raw_dir, set(h.late_customer_ids))
    reader = duckdb.connect(str(h.published), read_only=True)
    h.reader["before"] = reader.execute("select count(*) from marts.fct_orders").fetchone()[0]
    h.runs["day0"] = run_refresh(root, DAY1)
    h.reader["during"] = reader.execute("select count(*) from marts.fct_orders").fetchone()[0]
    reader.close()
    with duckdb.connect(str(h.published), read_only=True) as fresh:
        h.reader["after"] = fresh.execute("select count(*) from marts.fct_orders").fetchone()[0]
    h.snapshots["day0"] = root / "after-day0.duckdb"
    shutil.copyfile(h.published, h.snapshots["day0"])

    # 3. a corrupt landing file: the refresh must fail and publish nothing
    bad = raw_dir / "transactions" / "landed-broken-00000.csv"
    header = (raw_dir / "transactions" / f"landed-{DAY0}-00000.csv").read_text().splitlines()[0]
    bad.write_bytes(header.encode() + b"\nT9999999999,O9999999999,C00000001,sale,"
                    b"2025-12-20T10:00:00+00:00,10.00,USD,completed,web,,\xff\xfe\n")
    h.hashes["before_failure"] = sha256(h.published)
    h.runs["failed"] = run_refresh(root, DAY1)
    h.hashes["after_failure"] = sha256(h.published)
    bad.unlink()

    # 4. DAY1 with a re-sent copy of DAY0's ledger file, killed midway, then rerun
    shutil.copyfile(raw_dir / "transactions" / f"landed-{DAY0}-00000.csv",
                    raw_dir / "transactions" / f"resent-{DAY0}-00000.csv")
    h.hashes["before_kill"] = sha256(h.published)
    h.killed_midway = kill_midway(root, DAY1 + timedelta(days=1))
    h.hashes["after_kill"] = sha256(h.published)
    h.runs["after_kill"] = run_refresh(root, DAY1 + timedelta(days=1))
    h.snapshots["day1"] = root / "after-day1.duckdb"
    shutil.copyfile(h.published, h.snapshots["day1"])

    # 5. the same day again
    h.runs["rerun"] = run_refresh(root, DAY1 + timedelta(days=1))

    # 6. a clean build of the final landing folder
    h.full_build.parent.mkdir()
    settings = Settings(project_dir=PROJECT_DIR, warehouse_path=h.full_build, raw_dir=raw_dir,
                        raw_format="csv", dbt_threads=1)
    env = dbt_environment(settings, {"DBT_TARGET_PATH": str(root / "full" / "target"),
                                     "DBT_LOG_PATH": str(root / "full" / "logs"), **TINY_DATA})
    # Landed on the day of the last refresh: dim_data_sources reports each table's last
    # landing day, which the refreshes recorded as their --through dates.
    landed = DAY1 + timedelta(days=1)
    h.runs["full"] = subprocess.run(
        [dbt_executable(), "build", "--vars",
         f"{{as_of_date: '{DAY1}', landing_date: '{landed}'}}"], cwd=PROJECT_DIR,
        env=env, capture_output=True, text=True, check=False)
    return h


def assert_ok(run: subprocess.CompletedProcess[str], what: str) -> None:
    """Fail with the command's output when it did not succeed."""
    assert run.returncode == 0, f"{what} failed:\n{run.stdout[-5000:]}\n{run.stderr[-3000:]}"


def test_every_step_ran(history: History) -> None:
    for step in ("initial", "day0", "after_kill", "rerun", "full"):
        assert_ok(history.runs[step], step)
    assert "full build (nothing is published yet)" in history.runs["initial"].stdout
    for step in ("day0", "after_kill", "rerun"):
        assert "incremental build" in history.runs[step].stdout, history.runs[step].stdout


def test_late_rows_really_arrived_late(history: History) -> None:
    """The held-back rows were missing after the first refresh and are there after DAY0."""
    ids = ", ".join(f"'{t}'" for t in history.late_transaction_ids)
    sql = ("select count(distinct transaction_id) from intermediate.int_transactions_linked"
           f" where transaction_id in ({ids})")
    with duckdb.connect(str(history.snapshots["initial"]), read_only=True) as con:
        assert con.execute(sql).fetchone()[0] == 0
    with duckdb.connect(str(history.snapshots["day0"]), read_only=True) as con:
        assert con.execute(sql).fetchone()[0] == len(history.late_transaction_ids)


def test_incremental_refreshes_equal_a_full_build(history: History) -> None:
    """The equality test: every mart of the incrementally refreshed warehouse equals a
    clean build of the same raw files, rows on only one side included."""
    assert_ok(history.runs["full"], "full build")
    differences = mart_differences(history.published, history.full_build)
    assert len(differences) >= 8, differences
    assert all(rows > 0 for _, _, rows in differences.values()), differences
    assert {t: d for t, d in differences.items() if d[:2] != (0, 0)} == {}


def test_staging_ledger_equals_a_full_build(history: History) -> None:
    """The incremental model itself (not only the marts) equals its full build."""
    sql = ("select count(*) from (select * from {a}.intermediate.int_transactions_linked "
           "except all select * from {b}.intermediate.int_transactions_linked)")
    with duckdb.connect(str(history.published), read_only=True) as con:
        con.execute(f"attach '{history.full_build}' as full_build (read_only)")
        assert con.execute(sql.format(a="wh", b="full_build")).fetchone()[0] == 0
        assert con.execute(sql.format(a="full_build", b="wh")).fetchone()[0] == 0


def test_incremental_models_equal_a_full_build(history: History) -> None:
    """Every incremental customer model (not only the marts above it) equals its full
    build, the rows a run keeps included; only the run stamp differs."""
    with tempfile.TemporaryDirectory() as folder:
        for side, db in (("incremental", history.published), ("full", history.full_build)):
            with duckdb.connect(str(db), read_only=True) as con:
                for model, stamp in INCREMENTAL_MODELS.items():
                    con.execute(f"copy (select * exclude ({stamp}) from {model}) to "
                                f"'{folder}/{side}-{model}.parquet' (format parquet)")
        with duckdb.connect() as con:
            for model in INCREMENTAL_MODELS:
                one, two = (f"read_parquet('{folder}/{side}-{model}.parquet')"
                            for side in ("incremental", "full"))
                rows = con.execute(f"select count(*) from {two}").fetchone()[0]
                only = [con.execute(f"select count(*) from (select * from {a} except all "
                                    f"select * from {b})").fetchone()[0]
                        for a, b in ((one, two), (two, one))]
                assert rows > 0 and only == [0, 0], (model, rows, only)


def test_day_steps_wrote_a_slice_not_everything(history: History) -> None:
    """The last daily refresh rewrote the changed customers and the period in progress,
    not the whole customer x period model (the rest was kept from earlier runs)."""
    with duckdb.connect(str(history.published), read_only=True) as con:
        total, latest, current = con.execute("""
            select count(*),
                count(*) filter (where refreshed_at = (
                    select max(refreshed_at) from intermediate.int_customers_periods_stated)),
                count(*) filter (where period_start = (
                    select max(period_start) from intermediate.int_customers_periods_stated))
            from intermediate.int_customers_periods_stated""").fetchone()
    assert current <= latest < total / 2, (total, latest, current)


def test_late_full_refund_turns_the_only_purchase_into_none(history: History) -> None:
    """A refund of a 2024 order landing with DAY0 restates that customer's history: the
    order is no purchase any more, so its buyer is a lead with no state or tier rows."""
    key = customer_key(history.edits.refunded_customer)
    sql = f"select is_lead, orders from marts.dim_customers where customer_key = '{key}'"
    with duckdb.connect(str(history.snapshots["initial"]), read_only=True) as con:
        assert con.execute(sql).fetchone() == (False, 1)
    with duckdb.connect(str(history.snapshots["day0"]), read_only=True) as con:
        assert con.execute(sql).fetchone() == (True, 0)
        for mart in ("fct_customer_periods", "fct_customer_tiers"):
            assert con.execute(f"select count(*) from marts.{mart} "
                               f"where customer_key = '{key}'").fetchone()[0] == 0
        assert con.execute("select is_purchase from marts.fct_orders where order_id = "
                           f"'{history.edits.refunded_order}'").fetchone()[0] is False


def test_merged_person_hands_their_history_to_the_older_account(history: History) -> None:
    """A CRM row landing on DAY0 with the same e-mail and an earlier sign-up becomes the
    survivor: the earlier customer's orders, states and tiers move to its key."""
    old, new = customer_key(history.edits.merged_customer), customer_key(MERGED_INTO_ID)
    count = "select count(*) from marts.{mart} where customer_key = '{key}'"
    with duckdb.connect(str(history.snapshots["initial"]), read_only=True) as con:
        orders = con.execute(count.format(mart="fct_orders", key=old)).fetchone()[0]
        assert orders >= 3
        assert con.execute(count.format(mart="fct_orders", key=new)).fetchone()[0] == 0
    with duckdb.connect(str(history.snapshots["day0"]), read_only=True) as con:
        for mart in ("dim_customers", "fct_orders", "fct_customer_periods",
                     "fct_customer_tiers"):
            assert con.execute(count.format(mart=mart, key=old)).fetchone()[0] == 0, mart
        assert con.execute(count.format(mart="fct_orders", key=new)).fetchone()[0] >= orders


def test_erasure_request_dated_back_closes_the_account_from_that_day(history: History) -> None:
    """An erasure request dated months before DAY0 closes the account from its own date:
    the periods since then are restated (closed), not only the period in progress."""
    key = customer_key(history.edits.erased_customer)
    with duckdb.connect(str(history.snapshots["day0"]), read_only=True) as con:
        status = con.execute("select current_status, closed_date, is_erased from "
                             f"marts.dim_customers where customer_key = '{key}'").fetchone()
        assert status == ("closed", ERASURE_DATE, True)
        after = con.execute(f"""
            select count(*), count(*) filter (where is_active_at_end)
            from marts.fct_customer_periods
            where customer_key = '{key}' and effective_end >= '{ERASURE_DATE}'""").fetchone()
    assert after[0] >= 1 and after[1] == 0, after
    with duckdb.connect(str(history.snapshots["initial"]), read_only=True) as con:
        before = con.execute(f"""
            select count(*) filter (where is_active_at_end) from marts.fct_customer_periods
            where customer_key = '{key}' and effective_end >= '{ERASURE_DATE}'""").fetchone()
    assert before[0] >= 1, before


def test_daily_refresh_keeps_dbts_partial_parse(history: History) -> None:
    """One dbt invocation per refresh, and a new day re-parses nothing: the as-of date
    reaches dbt through the environment at run time, not through --vars."""
    log = (history.root / ".wh.refresh-dbt" / "logs" / "dbt.log").read_text(errors="replace")
    invocations = log.split("running dbt with arguments")[1:]
    commands = [re.search(r"'invocation_command': '([^']*)'", run).group(1)
                for run in invocations]
    assert commands and all(command.startswith("dbt build") for command in commands), commands
    daily = [run for run, command in zip(invocations, commands, strict=True)
             if "--full-refresh" not in command]
    assert len(daily) >= 4, commands
    for run in daily:  # each day moves the as-of date; none of them re-parses a file
        assert ("Partial parsing enabled: 0 files deleted, 0 files added, 0 files changed"
                in run), run[:3000]


def test_daily_selection_leaves_out_only_what_cannot_have_changed(history: History) -> None:
    """The last (daily) refresh ran no unit test, seed or view, but the tests of the staging
    views and the tests of the refreshed rows of the incremental customer models."""
    target = history.root / ".wh.refresh-dbt" / "target"
    ran = {result["unique_id"] for result in
           json.loads((target / "run_results.json").read_text())["results"]}
    nodes = json.loads((target / "manifest.json").read_text())["nodes"]
    views = {uid for uid, node in nodes.items() if node["resource_type"] == "model"
             and node["config"]["materialized"] == "view"}
    assert {"model.retention_warehouse.int_orders_accepted",
            "model.retention_warehouse.fct_customer_periods"} <= views
    assert not {uid for uid in ran if uid.startswith(("unit_test.", "seed."))} | (ran & views)
    assert "model.retention_warehouse.int_customers_periods_stated" in ran
    tested = {parent for uid in ran if uid.startswith("test.")
              for parent in nodes[uid]["depends_on"]["nodes"]}
    assert "model.retention_warehouse.int_orders_accepted" in tested  # a view over the ledger
    assert "model.retention_warehouse.int_customers_periods_stated" in tested
    assert "model.retention_warehouse.fct_customer_periods" not in tested


def test_resent_file_is_collapsed_not_double_counted(history: History) -> None:
    with duckdb.connect(str(history.published), read_only=True) as con:
        collapsed = con.execute(
            "select count(*) from intermediate.int_transactions_linked"
            f" where collapsed_copies > 0 and transaction_date = '{DAY0}'").fetchone()[0]
        rows_day0 = con.execute(
            "select count(*) from intermediate.int_transactions_linked"
            f" where transaction_date = '{DAY0}'").fetchone()[0]
    assert rows_day0 > 0 and collapsed == rows_day0


def test_reader_is_not_blocked_and_never_sees_a_partial_refresh(history: History) -> None:
    assert_ok(history.runs["day0"], "refresh with a reader attached")
    assert history.reader["during"] == history.reader["before"]
    assert history.reader["after"] > history.reader["before"]


def test_failed_refresh_leaves_the_published_warehouse_untouched(history: History) -> None:
    run = history.runs["failed"]
    assert run.returncode != 0
    assert "refresh failed" in run.stderr and "was not changed" in run.stderr, run.stderr
    assert history.hashes["after_failure"] == history.hashes["before_failure"]


def test_interrupted_refresh_changes_nothing_and_the_rerun_recovers(history: History) -> None:
    """The interruption test: killed during dbt build, published file byte-identical;
    the rerun publishes (and the final marts equal a clean build, test above)."""
    assert history.killed_midway, "the refresh was not killed while dbt was building"
    assert history.hashes["after_kill"] == history.hashes["before_kill"]
    assert_ok(history.runs["after_kill"], "refresh after the kill")
    assert not staging_dir(history.published).exists()
    with duckdb.connect(str(history.published), read_only=True) as con:
        as_of = con.execute("select as_of_date from intermediate.int_as_of_dates_resolved")
        assert str(as_of.fetchone()[0]) == str(DAY1)


def test_rerunning_the_same_day_changes_nothing(history: History) -> None:
    """Idempotency: a second refresh over the same data changes no mart row."""
    assert_ok(history.runs["rerun"], "rerun")
    differences = mart_differences(history.published, history.snapshots["day1"])
    assert {t: d for t, d in differences.items() if d[:2] != (0, 0)} == {}
    with duckdb.connect(str(history.published), read_only=True) as con:
        spells = con.execute("select count(*) from snapshots.snap_customer_tiers").fetchone()[0]
    with duckdb.connect(str(history.snapshots["day1"]), read_only=True) as con:
        before = con.execute("select count(*) from snapshots.snap_customer_tiers").fetchone()[0]
    assert spells == before > 0


def test_a_second_refresh_is_refused_while_one_runs(tmp_path: Path) -> None:
    root = tmp_path
    (root / "raw").mkdir()
    with refresh_lock(root / "wh.duckdb"):
        run = run_refresh(root, DAY0)
    assert run.returncode == 3
    assert "Another refresh" in run.stderr and str(os.getpid()) in run.stderr, run.stderr
    assert lock_path(root / "wh.duckdb").exists()
    assert not (root / "wh.duckdb").exists()


def test_refresh_records_what_it_landed_in_order(history: History) -> None:
    """The landing record of the published warehouse: each refresh that published landed its
    new files as the next batch, on its --through day (failed and killed refreshes published
    nothing, so they recorded nothing); landing order comes from it, not from file names."""
    with duckdb.connect(str(history.published), read_only=True) as con:
        landed = con.execute(
            "select file_name, landing_batch, landed_on from raw._landed_files"
            " where table_name = 'transactions' order by file_name").fetchall()
    by_name = {name: (batch, day) for name, batch, day in landed}
    assert {v for k, v in by_name.items() if k.startswith("landed-initial")} == {(1, DAY0)}
    assert by_name[f"landed-{DAY0}-00000.csv"] == (2, DAY1)
    assert by_name["late-transactions.csv"] == (2, DAY1)
    assert by_name[f"resent-{DAY0}-00000.csv"] == (3, DAY1 + timedelta(days=1))
    assert by_name[f"landed-{DAY1}-00000.csv"] == (3, DAY1 + timedelta(days=1))
    assert "landed-broken-00000.csv" not in by_name
