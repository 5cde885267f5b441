"""Portability: the same dbt project builds and passes on PostgreSQL, with the same marts.

A throwaway PostgreSQL server (``postgres_server.py``: initdb into a temporary folder,
a free port, stopped and deleted even on failure) gets the session sample's raw files
through ``retention_warehouse.pg_loader``, then a real ``dbt build --target postgres``
(``DBT_TARGET=postgres``) runs every seed, model, snapshot, unit test and data test.
The tests then prove:

* every node of the build passed (nothing skipped, nothing failed);
* every mart (schema ``marts``) has exactly the rows of the DuckDB build of the same
  sample (the session ``warehouse``): counts, text, dates and booleans equal, decimals
  (money) equal to the cent and exactly, doubles (rates) within 1e-9; the number of
  differences is printed and must be zero;
* the PostgreSQL marts agree with the independent Python oracle
  (``retention_warehouse.oracle``), as the DuckDB marts must in ``test_oracle_matches_marts.py``;
* the value models (dbt Python models) are disabled on PostgreSQL, so the prediction
  marts do not exist there and dim_customers' ``p_alive`` / ``predicted_clv_12m`` are NULL
  on every row (docs/predictions.md); the equality test compares every other column,
  ``rfm_segment`` (plain SQL) included, the oracle (given no fitted parameters) expects
  ``p_alive`` NULL, and it checks the RFM histories and scores in ``int_customers_rfm_scored``;
* the dispatched macros (timestamp parsing, safe casts) give the same value as on DuckDB
  for the accepted formats and for malformed input;
* a database without the raw tables stops the build at the on-run-start hook with a
  message naming the missing table and the loader, not a stack trace.

Marked ``postgres``: ``make test-postgres`` runs only these; ``make test`` runs them too.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg2
import pytest
from conftest import PROJECT_DIR, BuiltWarehouse
from engine_compare import mart_differences
from postgres_server import dbt_env, postgres_server

from retention_warehouse.contract import RAW_TABLES
from retention_warehouse.dbt_runner import dbt_executable
from retention_warehouse.oracle import COMPARE_SPECS, compare_frames, compute_oracle
from retention_warehouse.oracle.predictions import FORMULA_COLUMNS
from retention_warehouse.pg_loader import LANDING_TABLES, load_raw
from retention_warehouse.pii import HASH_KEY_VARIABLE, resolve_hash_key

pytestmark = pytest.mark.postgres

PASSED = {"success", "pass"}
# Built by dbt Python models, which PostgreSQL cannot run (docs/predictions.md): the
# marts are disabled there and these dim_customers columns are NULL. The equality test
# compares every other column; test_value_model_columns_on_postgres checks these.
PREDICTION_MARTS = ("fct_customer_predictions", "fct_customer_value_model")
PREDICTION_COLUMNS = {"dim_customers": ("p_alive", "predicted_clv_12m")}


def run_dbt(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run dbt in the project folder with this environment; never raises."""
    return subprocess.run([dbt_executable(), *args], cwd=PROJECT_DIR, env=env,
                          capture_output=True, text=True, check=False)


@dataclass
class PostgresBuild:
    """A dbt build of the sample on a throwaway PostgreSQL server."""

    server: dict
    env: dict[str, str]
    target_dir: Path
    loaded_rows: dict[str, int]
    build: subprocess.CompletedProcess[str]
    build_seconds: float

    def connect(self) -> psycopg2.extensions.connection:
        """A new connection to the server's database (the caller closes it)."""
        return psycopg2.connect(host=self.server["host"], port=self.server["port"],
                                user=self.server["user"], dbname=self.server["dbname"])

    def query(self, sql: str) -> tuple[list[str], list[tuple]]:
        """(column names, rows) of one query."""
        conn = self.connect()
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return [d.name for d in cursor.description], cursor.fetchall()
        finally:
            conn.close()

    def dbt(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run dbt against this server (own target and log folders)."""
        return run_dbt({**self.env, **(env or {})}, *args)


@pytest.fixture(scope="module")
def pg(warehouse: BuiltWarehouse, tmp_path_factory: pytest.TempPathFactory
       ) -> Iterator[PostgresBuild]:
    """The session sample loaded into a throwaway server and built there by dbt."""
    root = tmp_path_factory.mktemp("postgres")
    # The loader's DuckDB landing run reuses the session build's parse (partial parsing).
    (root / "loader_target").mkdir()
    shutil.copy2(warehouse.target_dir / "partial_parse.msgpack", root / "loader_target")
    with postgres_server() as server:
        loaded = load_raw(warehouse.raw_dir, warehouse.settings.raw_format,
                          target_path=str(root / "loader_target"),
                          host=server["host"], port=server["port"], user=server["user"],
                          password=server["password"], dbname=server["dbname"])
        # PostgreSQL has no raw folder to tell generated data by: the key is always given
        # (the one the DuckDB session build used, so customer_key must come out the same).
        env = {**warehouse.env, **dbt_env(server),
               HASH_KEY_VARIABLE: resolve_hash_key(warehouse.raw_dir),
               "DBT_TARGET_PATH": str(root / "target"), "DBT_LOG_PATH": str(root / "logs")}
        started = time.monotonic()
        build = run_dbt(env, "build")
        seconds = time.monotonic() - started
        print(f"\ndbt build --target postgres on the sample: {seconds:.1f} s")
        yield PostgresBuild(server=server, env=env, target_dir=root / "target",
                            loaded_rows=loaded, build=build, build_seconds=seconds)


def _build_failure(pg: PostgresBuild) -> str:
    return f"dbt build on PostgreSQL failed:\n{pg.build.stdout[-8000:]}\n{pg.build.stderr[-2000:]}"


def test_loader_loads_every_raw_row(pg: PostgresBuild, warehouse: BuiltWarehouse) -> None:
    """raw.<table> holds exactly the rows the generator wrote, for every contract table."""
    assert set(pg.loaded_rows) == {table.name for table in RAW_TABLES}
    # every generated table in full; fx_rates (optional, not generated) empty
    assert pg.loaded_rows == {**warehouse.generator_manifest["rows"], "fx_rates": 0}
    _, rows = pg.query("select table_name from information_schema.tables "
                       "where table_schema = 'raw'")
    assert {row[0] for row in rows} == set(pg.loaded_rows) | set(LANDING_TABLES)
    # the landing record came along: one row per batch file of the sample, one batch
    _, landed = pg.query("select count(*), max(landing_batch) from raw._landed_files")
    files = sum(1 for table in RAW_TABLES for _ in (warehouse.raw_dir / table.name).glob("*.csv"))
    assert landed == [(files, 1)]


def test_dbt_build_passes_on_postgres(pg: PostgresBuild) -> None:
    """Every seed, model, snapshot, unit test and data test ran and passed."""
    assert pg.build.returncode == 0, _build_failure(pg)
    manifest = json.loads((pg.target_dir / "manifest.json").read_text())
    results = json.loads((pg.target_dir / "run_results.json").read_text())["results"]
    status = {result["unique_id"]: result["status"] for result in results}
    expected = [
        unique_id
        for unique_id, node in {**manifest["nodes"], **manifest.get("unit_tests", {})}.items()
        if node["resource_type"] in {"model", "seed", "snapshot", "test", "unit_test"}
        and node.get("config", {}).get("enabled", True)
    ]
    kinds = {unique_id.split(".")[0] for unique_id in expected}
    assert {"model", "seed", "snapshot", "test", "unit_test"} <= kinds
    not_passed = {u: status.get(u, "not run") for u in expected if status.get(u) not in PASSED}
    assert not not_passed, f"nodes that did not pass on PostgreSQL: {not_passed}"


def _mart_names(pg: PostgresBuild) -> list[str]:
    manifest = json.loads((pg.target_dir / "manifest.json").read_text())
    return sorted(
        node["alias"] for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    )


def without_columns(columns: list[str], rows: list[tuple], drop: tuple[str, ...]
                    ) -> tuple[list[str], list[tuple]]:
    """The same rows without the named columns."""
    keep = [i for i, column in enumerate(columns) if column not in drop]
    return [columns[i] for i in keep], [tuple(row[i] for i in keep) for row in rows]


def test_mart_differences_catches_a_changed_cell() -> None:
    """The comparison itself fails on a changed rate, cent, count or row."""
    columns = ["period_start", "revenue", "rate", "customers"]
    rows = [(date(2024, 1, 1), Decimal("10.05"), 0.25, 3),
            (date(2024, 2, 1), Decimal("7.00"), 1 / 3, 4)]
    assert mart_differences(columns, rows, columns, list(reversed(rows))) == []
    assert mart_differences(columns, rows, columns,
                            [rows[0], (date(2024, 2, 1), Decimal("7.00"), 1 / 3 + 1e-12, 4)]
                            ) == []
    for changed in [(date(2024, 2, 1), Decimal("7.01"), 1 / 3, 4),
                    (date(2024, 2, 1), Decimal("7.00"), 1 / 3 + 1e-6, 4),
                    (date(2024, 2, 1), Decimal("7.00"), 1 / 3, 5),
                    (date(2024, 2, 1), None, 1 / 3, 4)]:
        assert mart_differences(columns, rows, columns, [rows[0], changed]), changed
    assert mart_differences(columns, rows, columns, rows[:1])


def test_marts_equal_duckdb_marts(pg: PostgresBuild, warehouse: BuiltWarehouse) -> None:
    """Every mart has the same rows on PostgreSQL as on DuckDB: zero differences."""
    assert pg.build.returncode == 0, _build_failure(pg)
    marts = _mart_names(pg)
    assert len(marts) >= 8, marts
    report: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    with warehouse.connect() as con:
        for mart in marts:
            cursor = con.execute(f"select * from marts.{mart}")
            drop = PREDICTION_COLUMNS.get(mart, ())
            columns_duck, rows_duck = without_columns(
                [d[0] for d in cursor.description], cursor.fetchall(), drop)
            columns_pg, rows_pg = without_columns(*pg.query(f"select * from marts.{mart}"), drop)
            counts[mart] = len(rows_pg)
            report[mart] = mart_differences(columns_duck, rows_duck, columns_pg, rows_pg)
    total = sum(len(diffs) for diffs in report.values())
    print("\nDuckDB vs PostgreSQL marts on the sample:")
    for mart in marts:
        print(f"  {mart:<32} {counts[mart]:>7} rows  {len(report[mart])} differences")
    print(f"  total differences: {total}")
    assert all(counts.values()), f"a mart is empty on PostgreSQL: {counts}"
    assert total == 0, "\n".join(f"{m}: {d}" for m, diffs in report.items() for d in diffs)


def test_postgres_marts_match_the_oracle(pg: PostgresBuild, warehouse: BuiltWarehouse) -> None:
    """The independent Python oracle agrees with the PostgreSQL marts cell by cell."""
    assert pg.build.returncode == 0, _build_failure(pg)
    key = resolve_hash_key(warehouse.raw_dir)  # the key the DuckDB build used
    expected = compute_oracle(warehouse.raw_dir, PROJECT_DIR / "seeds", hash_key=key)
    problems: list[str] = []
    for table, spec in COMPARE_SPECS.items():
        if table in PREDICTION_MARTS:
            # Not built here; its histories and RFM scores come from this SQL model, keyed
            # by customer_id (not the hash) and without the fitted models' columns.
            rfm_spec = {group: [c for c in columns if c not in FORMULA_COLUMNS]
                        for group, columns in spec.items()}
            rfm_spec["keys"] = ["customer_id"]
            columns, rows = pg.query("select * from intermediate.int_customers_rfm_scored")
            problems += [f"int_customers_rfm_scored: {d}" for d in
                         compare_frames(expected[table], pd.DataFrame(rows, columns=columns),
                                        **rfm_spec)]
            continue
        columns, rows = pg.query(f"select * from marts.{table}")
        problems += [f"{table}: {d}" for d in
                     compare_frames(expected[table], pd.DataFrame(rows, columns=columns), **spec)]
    assert not problems, "\n".join(problems)


def test_value_model_columns_on_postgres(pg: PostgresBuild, warehouse: BuiltWarehouse) -> None:
    """No Python models on PostgreSQL: the prediction marts are disabled (not built), and
    dim_customers builds with p_alive and predicted_clv_12m NULL on every row; on DuckDB
    every customer has both. The RFM segment is SQL and set for every customer on both."""
    assert pg.build.returncode == 0, _build_failure(pg)
    manifest = json.loads((pg.target_dir / "manifest.json").read_text())
    disabled = {node["name"] for nodes in manifest["disabled"].values() for node in nodes}
    assert set(PREDICTION_MARTS) | {"int_value_models_fitted", "int_customers_predicted"} \
        <= disabled
    _, tables = pg.query("select table_name from information_schema.tables "
                         "where table_schema = 'marts'")
    assert not {name for (name,) in tables} & set(PREDICTION_MARTS)
    sql = ("select count(*), count(p_alive), count(predicted_clv_12m), "
           "count(rfm_segment) from marts.dim_customers where not is_lead")
    _, [(customers, p_alive, clv, segments)] = pg.query(sql)
    assert customers > 0 and (p_alive, clv) == (0, 0) and segments == customers
    [(duck_customers, duck_p_alive, duck_clv, duck_segments)] = warehouse.query(sql)
    assert (duck_customers, duck_p_alive, duck_clv, duck_segments) == (customers,) * 4


# Inputs for the dispatched macros: every accepted timestamp format (with the offset
# spellings +HH, +HHMM, +HH:MM), the generator's unparseable format, impossible dates
# and times, and malformed numbers and dates.
TIMESTAMP_CASES = [
    "2024-03-05T14:22:10+01:00", "2024-03-05T14:22:10+0100", "2024-03-05T14:22:10+01",
    "2024-03-05T14:22:10-05:30", "2024-3-5T4:2:1+01:00", "2024-03-05T14:22:10+01:00:00",
    "2024-12-31T23:30:00-02:00", "05/03/2024 14:22:10 +0100", "5/3/2024 14:22:10 +01:00",
    "15/01/2024 23:30:00 -0200", "2024-03-05T14:22:10", "2024-02-29T00:00:00",
    "03/05/2024 02:22 PM", "2024-03-05T14:22:10Z", "2024-03-05 14:22:10",
    "2024-03-05T24:00:00+00:00", "2024-03-05T23:59:60+00:00", "2024-02-30T10:00:00+00:00",
    "2023-02-29T10:00:00", "2024-13-05T10:00:00+00:00", "31/04/2024 10:00:00 +0000",
    "05/03/2024 14:22:10", "2024-03-05", "2024-03-05T14:22", "yesterday at noon", "",
    # the common export forms (issue 19): fractions, Z, a space before the offset
    "2025-06-15T10:00:00.123Z", "2025-06-15T10:00:00.123456789z", "2025-06-15 10:00:00 +02:00",
    "2025-06-15T10:00:00.5-04:00", "2025-06-15T23:30+0530", "2025-06-16 01:00:00+02",
    "2025-06-15T10:00:00+2", "2025-06-15T10:00:00+15:00", "2025-06-15 09:45",
]
# Inputs for the value grammars (parse_money, parse_integer, parse_boolean, parse_date,
# normalize_email), written as exports write them.
VALUE_CASES = [
    "12", "12.5", "12.50", "+0012.50", "-5.00", "12.505", "1e3", "1_000", "1,000.00", "$12",
    "12.", ".5", "8.6", "+9", "-1", "1234567890", "true", "FALSE", "Yes", "n", "1", "0",
    "maybe", "2024-03-05", "2024-02-30", "2024-3-5", "  José@X.com ", "JOSE\u0301@x.com",
    "ann+shop@x.com", "",
]
CAST_CASES = [
    "12", "12.5", "13.5", "-12.5", "10.005", "-0.004", "1e3", "+7", ".5", "5.", "12.3x",
    "two", "", "2147483648", "99999999999999999.99", "1,5", "NaN", "2024-03-05",
    "2024-3-5", "2024/03/05", "2024-03-05 10:00:00", "2024-02-30", "2024-00-05",
    "05/03/2024", "20240305", "march 5 2024",
]
# Keyed-hash inputs: RFC 4231 test case 2's message, non-ASCII text (UTF-8 bytes must be
# hashed on both engines), an empty string, a customer id.
HMAC_CASES = ["what do ya want for nothing?", "Zoë Ångström ✓", "", "C00000042"]


def _macro_values(run_dbt, target_dir: Path) -> list[dict[str, Any]]:
    """The macros' outputs for every case, through `dbt show` on one engine."""
    def values_list(cases: list[str]) -> str:
        return ", ".join("('" + case.replace("'", "''") + "')" for case in cases)

    sql = (
        "select 'ts' as kind, v, cast({{ parse_timestamp_utc('v') }} as varchar) as a, "
        "{{ timestamp_format('v') }} as b, cast(null as varchar) as c "
        f"from (values {values_list(TIMESTAMP_CASES)}) as cases (v) "
        "union all "
        "select 'cast' as kind, v, cast({{ cast_or_null('v', 'integer') }} as varchar) as a, "
        "cast({{ cast_or_null('v', 'decimal(18, 2)') }} as varchar) as b, "
        "cast({{ cast_or_null('v', 'date') }} as varchar) as c "
        f"from (values {values_list(CAST_CASES)}) as cases (v) "
        "union all "
        "select 'hmac' as kind, v, {{ hmac_sha256('v', 'Jefe') }} as a, "
        "{{ hash_pii('v') }} as b, cast(null as varchar) as c "
        f"from (values {values_list(HMAC_CASES)}) as cases (v) "
        "union all "
        "select 'money' as kind, v, cast({{ parse_money('v') }} as varchar) as a, "
        "cast({{ parse_money('v', '0') }} as varchar) as b, "
        "cast({{ parse_integer('v') }} as varchar) as c "
        f"from (values {values_list(VALUE_CASES)}) as cases (v) "
        "union all "
        "select 'text' as kind, v, cast({{ parse_boolean('v') }} as varchar) as a, "
        "cast({{ parse_date('v') }} as varchar) as b, {{ normalize_email('v') }} as c "
        f"from (values {values_list(VALUE_CASES)}) as cases (v)"
    )
    result = run_dbt("show", "--inline", sql, "--output", "json", "--quiet", "--limit", "-1",
                     env={"DBT_TARGET_PATH": str(target_dir)})
    assert result.returncode == 0, f"dbt show failed:\n{result.stdout[-4000:]}{result.stderr}"
    rows = json.loads(result.stdout[result.stdout.index("{"):])["show"]
    return sorted(rows, key=lambda row: (row["kind"], row["v"]))


def test_dispatched_macros_agree_with_duckdb(pg: PostgresBuild, warehouse: BuiltWarehouse,
                                             tmp_path: Path) -> None:
    """parse_timestamp_utc, timestamp_format, cast_or_null, hmac_sha256, hash_pii and the value
    grammars (money, integers, booleans, dates, e-mails): same values on both engines (and HMAC
    as RFC 4231 and Python's hmac module say)."""
    assert pg.build.returncode == 0, _build_failure(pg)
    on_postgres = _macro_values(pg.dbt, tmp_path / "pg_target")

    def run_duckdb(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
        # A scratch DuckDB file: the inline query reads no table.
        return warehouse.dbt(*args, env={**env, "RETENTION_DB": str(tmp_path / "show.duckdb")})

    on_duckdb = _macro_values(run_duckdb, tmp_path / "duck_target")
    assert len(on_duckdb) == (len(TIMESTAMP_CASES) + len(CAST_CASES) + len(HMAC_CASES)
                              + 2 * len(VALUE_CASES))
    hashed = {row["v"]: row for row in on_duckdb if row["kind"] == "hmac"}
    assert hashed["what do ya want for nothing?"]["a"] == (  # RFC 4231, test case 2
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    key = resolve_hash_key(warehouse.raw_dir).encode()
    assert all(row["b"] == hmac.new(key, v.encode(), hashlib.sha256).hexdigest()
               for v, row in hashed.items())
    parsed = [row for row in on_duckdb if row["kind"] == "ts" and row["a"] is not None]
    assert len(parsed) >= 10 and any(row["a"] is None for row in on_duckdb)
    differences = [f"{duck} != {post}" for duck, post in zip(on_duckdb, on_postgres, strict=True)
                   if duck != post]
    assert not differences, "\n".join(differences)


def test_missing_raw_tables_stop_the_build_with_a_clear_message(pg: PostgresBuild,
                                                                tmp_path: Path) -> None:
    """A database the loader never filled fails at the hook, naming the table and loader."""
    conn = pg.connect()
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute("create database empty_raw")
    finally:
        conn.close()
    result = pg.dbt("run", "--select", "metricflow_time_spine",
                    env={"RETENTION_PG_DATABASE": "empty_raw",
                         "DBT_TARGET_PATH": str(tmp_path / "target")})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Raw landing problem: table raw." in output, output[-3000:]
    assert "does not exist in database 'empty_raw'" in output
    assert "retention_warehouse.pg_loader" in output
    assert "Traceback" not in output
