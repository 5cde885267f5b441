"""Load the raw landing files into PostgreSQL, for the dbt ``postgres`` target.

On DuckDB the dbt sources read the raw files in place (the on-run-start hook
``check_raw_landing()`` creates views ``raw.<table>`` over them). PostgreSQL cannot read
files that way, so this module copies them into tables first:

* for every raw table of the contract (``retention_warehouse.contract.RAW_TABLES``) it
  reads every batch file ``<raw_dir>/<table>/*.csv`` (or ``*.parquet``);
* it drops and recreates ``raw.<table>`` in the target database with every contract
  column as ``text`` (plus any extra column some batch file has, also ``text``, as
  DuckDB's ``union_by_name`` would show it) and a ``_source_file text`` column holding
  the batch file's path spelled as DuckDB's ``filename`` option spells it
  (``<raw_dir>/<table>/<file>``), so ``source_file`` lineage matches across engines;
* CSV files go in with ``COPY ... FROM STDIN (FORMAT csv, HEADER true)`` using the
  file's own header as the column list (column order may differ between batches);
  Parquet files are read by DuckDB and streamed to the same ``COPY`` as CSV, every
  value cast to text;
* everything happens in one transaction (drop, create, copy all tables, commit), so a
  failed load leaves the previous raw tables in place, and a rerun is idempotent;
  ``ANALYZE`` runs afterwards so the planner knows the table sizes.

A table folder with no batch file, or batch files that lack a contract column, stops
the load with a message naming the folder and the column (the same checks
``check_raw_landing()`` makes on DuckDB). Values are not validated here: typing and
validation are staging's job, exactly as on DuckDB.

Command line (connection settings default to the variables the ``postgres`` target of
profiles.yml reads: RETENTION_PG_HOST, _PORT, _USER, _PASSWORD, _DATABASE)::

    python -m retention_warehouse.pg_loader --raw-dir data/sample [--format csv|parquet]
    DBT_TARGET=postgres dbt build

``--format`` defaults to RETENTION_RAW_FORMAT, else to whatever each table folder holds.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from retention_warehouse.contract import RAW_FORMATS, RAW_TABLES, RawTable

SOURCE_FILE_COLUMN = "_source_file"
RAW_SCHEMA = "raw"


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


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def batch_files(raw_dir: str, table: RawTable, fmt: str | None) -> tuple[str, list[str]]:
    """(format, sorted batch file paths) of one table; raises when there is none."""
    folder = os.path.join(raw_dir, table.name)
    formats = [fmt] if fmt else list(RAW_FORMATS)
    for candidate in formats:
        files = sorted(str(path) for path in Path(folder).glob(f"*.{candidate}"))
        if files:
            # Spell paths as DuckDB's glob does: the raw_dir as given, then table/file.
            return candidate, [os.path.join(folder, os.path.basename(path)) for path in files]
    looked_for = " or ".join(f"{folder}/*.{candidate}" for candidate in formats)
    raise ValueError(
        f"Raw landing problem: no batch files for raw table '{table.name}' "
        f"(looked for {looked_for})."
    )


def _csv_header(path: str) -> list[str]:
    with open(path, newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle), [])


def _parquet_columns(path: str) -> list[str]:
    import duckdb

    with duckdb.connect() as con:
        return [row[0] for row in con.execute(
            "describe select * from read_parquet(?)", [path]).fetchall()]


def file_columns(path: str, fmt: str) -> list[str]:
    """The column names of one batch file, in file order."""
    return _csv_header(path) if fmt == "csv" else _parquet_columns(path)


def _copy_csv(cursor, target: str, columns: list[str], handle) -> None:
    column_list = ", ".join(_quote_ident(column) for column in columns)
    cursor.copy_expert(
        f"copy {target} ({column_list}) from stdin with (format csv, header true)", handle
    )


def _load_file(cursor, target: str, path: str, fmt: str, columns: list[str]) -> None:
    """COPY one batch file into `target` (its _source_file default set to the path)."""
    cursor.execute(
        f"alter table {target} alter column {SOURCE_FILE_COLUMN} "
        f"set default {_quote_literal(path)}"
    )
    if fmt == "csv":
        with open(path, "rb") as handle:
            _copy_csv(cursor, target, columns, handle)
        return
    import duckdb

    # Parquet: DuckDB writes the file's rows as CSV (every value as text) to a
    # temporary file, which is streamed to the same COPY as a CSV batch.
    select_list = ", ".join(
        f"cast({_quote_ident(column)} as varchar) as {_quote_ident(column)}" for column in columns
    )
    with tempfile.TemporaryDirectory(prefix="pg_loader_") as tmp:
        csv_path = os.path.join(tmp, "batch.csv")
        with duckdb.connect() as con:
            con.execute(
                f"copy (select {select_list} from read_parquet({_quote_literal(path)})) "
                f"to {_quote_literal(csv_path)} (format csv, header true)"
            )
        with open(csv_path, "rb") as handle:
            _copy_csv(cursor, target, columns, handle)


def load_table(cursor, raw_dir: str, table: RawTable, fmt: str | None = None) -> int:
    """Drop, recreate and fill raw.<table> from its batch files; return its row count."""
    table_fmt, files = batch_files(raw_dir, table, fmt)
    per_file = {path: file_columns(path, table_fmt) for path in files}
    present: list[str] = []
    for columns in per_file.values():
        present.extend(column for column in columns if column not in present)
    for column in table.column_names:
        if column not in present:
            raise ValueError(
                f"Raw landing problem: the {table_fmt} files {raw_dir}/{table.name}/*.{table_fmt} "
                f"have no column '{column}' (found: {', '.join(present)}). "
                "See docs/raw_data_contract.md for the expected header."
            )
    extra = [c for c in present if c not in table.column_names and c != SOURCE_FILE_COLUMN]
    target = f"{RAW_SCHEMA}.{_quote_ident(table.name)}"
    column_defs = ", ".join(
        f"{_quote_ident(column)} text" for column in [*table.column_names, *extra]
    )
    cursor.execute(f"drop table if exists {target} cascade")
    cursor.execute(f"create table {target} ({column_defs}, {SOURCE_FILE_COLUMN} text)")
    for path, columns in per_file.items():
        _load_file(cursor, target, path, table_fmt, columns)
    cursor.execute(f"alter table {target} alter column {SOURCE_FILE_COLUMN} drop default")
    cursor.execute(f"select count(*) from {target}")
    return int(cursor.fetchone()[0])


def load_raw(
    raw_dir: str | os.PathLike,
    fmt: str | None = None,
    tables: Iterable[RawTable] = RAW_TABLES,
    **connection: object,
) -> dict[str, int]:
    """Load every raw table from `raw_dir` into schema raw; return rows loaded per table.

    `connection` overrides connection_settings() (host, port, user, password, dbname).
    """
    import psycopg2

    fmt = fmt or os.environ.get("RETENTION_RAW_FORMAT") or None
    if fmt is not None and fmt not in RAW_FORMATS:
        raise ValueError(f"format must be one of {', '.join(RAW_FORMATS)}, got '{fmt}'")
    tables = list(tables)
    raw_dir = os.fspath(raw_dir)
    if not os.path.isdir(raw_dir):
        raise ValueError(f"Raw landing problem: {raw_dir} is not a folder.")
    conn = psycopg2.connect(**connection_settings(**connection))
    try:
        with conn, conn.cursor() as cursor:  # one transaction: all tables or none
            cursor.execute(f"create schema if not exists {RAW_SCHEMA}")
            counts = {table.name: load_table(cursor, raw_dir, table, fmt) for table in tables}
        conn.autocommit = True
        with conn.cursor() as cursor:
            for table in tables:
                cursor.execute(f"analyze {RAW_SCHEMA}.{_quote_ident(table.name)}")
    finally:
        conn.close()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", default=os.environ.get("RETENTION_RAW_DIR", "data/sample"),
                        help="raw landing folder (default: RETENTION_RAW_DIR or data/sample)")
    parser.add_argument("--format", choices=RAW_FORMATS, default=None,
                        help="batch file format (default: RETENTION_RAW_FORMAT, else detected)")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--dbname")
    args = parser.parse_args(argv)
    try:
        counts = load_raw(args.raw_dir, args.format, host=args.host, port=args.port,
                          user=args.user, password=args.password, dbname=args.dbname)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 1
    for name, rows in counts.items():
        print(f"raw.{name}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
