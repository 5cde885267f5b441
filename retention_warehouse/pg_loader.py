"""Load the raw landing files into PostgreSQL, for the dbt ``postgres`` target.

On DuckDB the dbt sources read the raw files in place (the on-run-start hook
``check_raw_landing()`` creates views ``raw.<table>`` over them). PostgreSQL cannot read
files that way, so this module copies them into tables first, through the very same
reader, so the landing rules are written once:

1. the landing pre-flight (``retention_warehouse.landing.preflight``) checks the folder
   and converts Windows-1252 tables to UTF-8, exactly as ``retention build`` does;
2. ``dbt run-operation land_raw_files_now`` runs the DuckDB landing of
   ``macros/check_raw_landing.sql`` against a throwaway DuckDB file: batch files
   (``*.csv``, ``*.csv.gz``, ``*.parquet`` in any letter case), optional tables (an
   absent one is an empty table), header checks, encodings, the landing record
   ``raw._landed_files`` and the malformed lines ``raw._malformed_rows``;
3. every ``raw.<table>`` view of that file (every contract column as ``text`` plus
   ``_source_file``, spelled ``<raw_dir>/<table>/<file>`` as on DuckDB, so lineage and
   landing order match across engines) and both landing tables are streamed to
   PostgreSQL with ``COPY ... FROM STDIN``, in one transaction (drop, create, copy
   every table, commit): a failed load leaves the previous raw tables in place and a
   rerun is idempotent; ``ANALYZE`` runs afterwards.

The landing record starts afresh with each load (batch 1, landed on the load's UTC
date, or ``--landing-date``). Values are not validated here: typing and validation are
staging's job, exactly as on DuckDB.

Command line (connection settings default to the variables the ``postgres`` target of
profiles.yml reads: RETENTION_PG_HOST, _PORT, _USER, _PASSWORD, _DATABASE)::

    python -m retention_warehouse.pg_loader --raw-dir data/sample
    DBT_TARGET=postgres dbt build
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from retention_warehouse.contract import RAW_TABLES, RawTable
from retention_warehouse.landing import RawLandingError, preflight

SOURCE_FILE_COLUMN = "_source_file"
RAW_SCHEMA = "raw"

# The landing record's tables and their PostgreSQL column types (as the hook creates them).
LANDING_TABLES: dict[str, dict[str, str]] = {
    "_landed_files": {
        "table_name": "text", "file_path": "text", "file_name": "text", "file_kind": "text",
        "encoding": "text", "file_size": "bigint", "file_modified_epoch": "bigint",
        "header_columns": "text", "landing_batch": "integer", "landed_on": "date",
        "first_landed_at": "timestamp",
    },
    "_malformed_rows": {
        "table_name": "text", "file_path": "text", "line_number": "bigint",
        "error_type": "text",
    },
}


class LandingRunError(RuntimeError):
    """The DuckDB landing run (dbt run-operation) failed; its message says why."""


def connection_settings(**overrides: object) -> dict[str, object]:
    """psycopg2 connect() keywords from RETENTION_PG_* (as profiles.yml), then overrides."""
    settings: dict[str, object] = {
        "host": os.environ.get("RETENTION_PG_HOST", "localhost"),
        "port": int(os.environ.get("RETENTION_PG_PORT", "5432")),
        "user": os.environ.get("RETENTION_PG_USER", "postgres"),
        "password": os.environ.get("RETENTION_PG_PASSWORD", ""),
        "dbname": os.environ.get("RETENTION_PG_DATABASE", "retention"),
    }
    settings.update({key: value for key, value in overrides.items() if value is not None})
    return settings


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def land_with_duckdb(raw_dir: str, duckdb_path: Path, work_dir: Path,
                     landing_date: str | None = None, target_path: str | None = None) -> None:
    """Run the project's DuckDB landing into ``duckdb_path`` (pre-flight, then the hook's
    reader through ``dbt run-operation``); raise RawLandingError or LandingRunError."""
    from retention_warehouse.dbt_runner import run_dbt
    from retention_warehouse.settings import load_settings

    preflight(Path(raw_dir), duckdb_path,
              default_currency=bool(os.environ.get("RETENTION_DEFAULT_CURRENCY")))
    project = load_settings()
    settings = type(project)(project_dir=project.project_dir, warehouse_path=duckdb_path,
                             raw_dir=Path(raw_dir), raw_format=project.raw_format,
                             dbt_threads=1)
    args = ["run-operation", "land_raw_files_now"]
    if landing_date:
        args += ["--vars", json.dumps({"landing_date": landing_date})]
    result = run_dbt(settings, args, capture=True, extra_env={
        "DBT_TARGET": "dev",
        "RETENTION_RAW_DIR": raw_dir,
        "DBT_TARGET_PATH": target_path or str(work_dir / "target"),
        "DBT_LOG_PATH": str(work_dir / "logs"),
    })
    if result.returncode != 0:
        lines = [line for line in result.stdout.splitlines() if "landing problem" in line.lower()]
        raise LandingRunError(lines[-1].strip() if lines else
                              "the DuckDB landing failed:\n" + result.stdout[-3000:])


def _copy_query(cursor, con, target: str, columns: list[str], query: str,
                work_dir: Path) -> None:
    """Stream the result of a DuckDB query into a PostgreSQL table through a CSV file."""
    csv_path = work_dir / "batch.csv"
    con.execute(f"copy ({query}) to '{csv_path}' (format csv, header true)")
    column_list = ", ".join(_quote_ident(column) for column in columns)
    with csv_path.open("rb") as handle:
        cursor.copy_expert(
            f"copy {target} ({column_list}) from stdin with (format csv, header true)", handle)
    csv_path.unlink()


def load_table(cursor, con, table: RawTable, work_dir: Path) -> int:
    """Drop, recreate and fill raw.<table> from the DuckDB landing; return its row count."""
    columns = [*table.column_names, SOURCE_FILE_COLUMN]
    target = f"{RAW_SCHEMA}.{_quote_ident(table.name)}"
    cursor.execute(f"drop table if exists {target} cascade")
    cursor.execute(f"create table {target} ("
                   + ", ".join(f"{_quote_ident(c)} text" for c in columns) + ")")
    select = ", ".join(_quote_ident(c) for c in columns)
    _copy_query(cursor, con, target, columns, f"select {select} from raw.{table.name}", work_dir)
    cursor.execute(f"select count(*) from {target}")
    return int(cursor.fetchone()[0])


def load_landing_table(cursor, con, name: str, work_dir: Path) -> None:
    """Drop, recreate and fill one landing-record table from the DuckDB landing."""
    types = LANDING_TABLES[name]
    target = f"{RAW_SCHEMA}.{_quote_ident(name)}"
    cursor.execute(f"drop table if exists {target} cascade")
    cursor.execute(f"create table {target} ("
                   + ", ".join(f"{_quote_ident(c)} {t}" for c, t in types.items()) + ")")
    _copy_query(cursor, con, target, list(types),
                f"select {', '.join(types)} from raw.{name}", work_dir)


def load_raw(
    raw_dir: str | os.PathLike,
    fmt: str | None = None,
    tables: Iterable[RawTable] = RAW_TABLES,
    landing_date: str | None = None,
    target_path: str | None = None,
    **connection: object,
) -> dict[str, int]:
    """Load every raw table from `raw_dir` into schema raw; return rows loaded per table.

    `fmt` is accepted for compatibility and ignored: each file's format comes from its
    name. `target_path` is a dbt target folder to reuse (partial parsing). `connection`
    overrides connection_settings() (host, port, user, password, dbname).
    """
    import duckdb
    import psycopg2

    del fmt
    raw_dir = os.fspath(raw_dir)
    tables = list(tables)
    with tempfile.TemporaryDirectory(prefix="pg_loader_") as tmp:
        work_dir = Path(tmp)
        landed = work_dir / "landing.duckdb"
        land_with_duckdb(raw_dir, landed, work_dir, landing_date, target_path)
        conn = psycopg2.connect(**connection_settings(**connection))
        try:
            with duckdb.connect(str(landed), read_only=True) as con, conn, conn.cursor() as cursor:
                cursor.execute(f"create schema if not exists {RAW_SCHEMA}")
                counts = {table.name: load_table(cursor, con, table, work_dir)
                          for table in tables}
                for name in LANDING_TABLES:
                    load_landing_table(cursor, con, name, work_dir)
            conn.autocommit = True
            with conn.cursor() as cursor:
                for name in [*(table.name for table in tables), *LANDING_TABLES]:
                    cursor.execute(f"analyze {RAW_SCHEMA}.{_quote_ident(name)}")
        finally:
            conn.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", default=os.environ.get("RETENTION_RAW_DIR", "data/sample"),
                        help="raw landing folder (default: RETENTION_RAW_DIR or data/sample)")
    parser.add_argument("--format", choices=("csv", "parquet"), default=None,
                        help="ignored: each batch file's format comes from its name")
    parser.add_argument("--landing-date", help="day the files landed (default: today, UTC)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--dbname")
    args = parser.parse_args(argv)
    try:
        counts = load_raw(args.raw_dir, args.format, landing_date=args.landing_date,
                          host=args.host, port=args.port, user=args.user,
                          password=args.password, dbname=args.dbname)
    except (RawLandingError, LandingRunError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, rows in counts.items():
        print(f"raw.{name}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
