"""The two floors a build is compared with, each run in its own process so its memory is measured.

* Floor (a): one DuckDB query that reads the raw transactions once and writes one
  per-customer aggregate table — the least any build must do with the data.
* Floor (b): the SQL dbt compiled for every model, run directly in one DuckDB
  connection in DAG order, without dbt — what the same SQL costs with no
  orchestration. The data tests' SQL is timed too (reported apart), since
  ``dbt build`` runs them as well. dbt Python models (the value models) have no
  SQL: their tables are kept from the build, not timed (``python_models``).

Run as ``python -m retention_warehouse.bench.floors a|b ...``; it writes its
timings as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Iterable
from pathlib import Path

import duckdb

from retention_warehouse.settings import DEFAULT_DUCKDB_MEMORY_LIMIT


def connect(path: Path | str, threads: int, memory_limit: str) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the same settings the dbt profile uses."""
    con = duckdb.connect(str(path))
    con.execute(f"set threads = {int(threads)}")
    con.execute(f"set memory_limit = '{memory_limit}'")
    con.execute("set preserve_insertion_order = false")
    con.execute("set TimeZone = 'UTC'")
    return con


def raw_reader(raw_dir: Path, fmt: str, table: str) -> str:
    """The table function that reads one raw table's files (as the dbt hook does)."""
    pattern = str(raw_dir / table / f"*.{fmt}").replace("'", "''")
    if fmt == "parquet":
        return f"read_parquet('{pattern}')"
    return f"read_csv('{pattern}', header = true, all_varchar = true)"


FLOOR_A_SQL = """
create or replace table customer_totals as
select
    customer_id,
    count(*) as transactions,
    sum(try_cast(amount as decimal(18, 2))) as amount,
    min(transaction_at) as first_transaction_at,
    max(transaction_at) as last_transaction_at
from {reader}
group by customer_id
"""


def floor_a(raw_dir: Path, fmt: str, db_path: Path, threads: int, memory_limit: str) -> dict:
    """Time the one-query floor into a fresh DuckDB file."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", ".wal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    with connect(db_path, threads, memory_limit) as con:
        started = time.perf_counter()
        con.execute(FLOOR_A_SQL.format(reader=raw_reader(raw_dir, fmt, "transactions")))
        con.execute("checkpoint")
        seconds = time.perf_counter() - started
        customers = con.execute("select count(*) from customer_totals").fetchone()[0]
    return {"seconds": seconds, "customers": int(customers)}


def dag_order(nodes: dict[str, dict]) -> list[str]:
    """Unique ids of ``nodes`` ordered so every node follows the nodes it depends on."""
    pending = {uid: {dep for dep in node["depends_on"]["nodes"] if dep in nodes}
               for uid, node in nodes.items()}
    ordered: list[str] = []
    while pending:
        ready = sorted(uid for uid, deps in pending.items() if not deps)
        if not ready:
            raise ValueError(f"dependency cycle among {sorted(pending)}")
        ordered.extend(ready)
        for uid in ready:
            del pending[uid]
        for deps in pending.values():
            deps.difference_update(ready)
    return ordered


def built_models(manifest: dict) -> dict[str, dict]:
    """Every model dbt materialises (table, view or incremental), by unique id."""
    return {uid: node for uid, node in manifest["nodes"].items()
            if node["resource_type"] == "model" and node["config"].get("materialized")
            in ("table", "view", "incremental")}


def python_models(manifest: dict) -> list[str]:
    """Unique ids of the built dbt Python models (no SQL to run)."""
    return sorted(uid for uid, node in built_models(manifest).items()
                  if node.get("language") == "python")


def model_statements(manifest: dict) -> list[tuple[str, str, str]]:
    """(unique id, materialization, compiled SQL) of every built SQL model, in DAG order."""
    skipped = set(python_models(manifest))
    models = {uid: node for uid, node in built_models(manifest).items() if uid not in skipped}
    missing = [uid for uid, node in models.items() if not node.get("compiled_code")]
    if missing:
        raise ValueError(f"no compiled SQL for {missing[:3]}...; run a full dbt build first")
    return [(uid, models[uid]["config"]["materialized"], models[uid]["compiled_code"])
            for uid in dag_order(models)]


def _relation(manifest: dict, uid: str) -> str:
    return manifest["nodes"][uid]["relation_name"]


def _execute_all(con: duckdb.DuckDBPyConnection, statements: Iterable[str]) -> float:
    started = time.perf_counter()
    for statement in statements:
        con.execute(statement)
    return time.perf_counter() - started


def floor_b(built_db: Path, manifest_path: Path, work_dir: Path, threads: int,
            memory_limit: str) -> dict:
    """Time every model's (and test's) compiled SQL on a copy of the built warehouse.

    The copy keeps the seeds; the model relations are dropped first (not timed),
    then the on-run-start hooks and every model are run in DAG order. The copy
    has the same file name, so the catalog name in dbt's relation names holds.
    """
    manifest = json.loads(manifest_path.read_text())
    if work_dir.exists():
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)
    db_path = work_dir / built_db.name
    shutil.copyfile(built_db, db_path)
    models = model_statements(manifest)
    hooks = [node["compiled_code"] for node in manifest["nodes"].values()
             if node["resource_type"] == "operation" and node.get("compiled_code")]
    tests = [node["compiled_code"] for node in manifest["nodes"].values()
             if node["resource_type"] == "test" and node.get("compiled_code")]
    with connect(db_path, threads, memory_limit) as con:
        for uid, materialized, _ in reversed(models):
            kind = "view" if materialized == "view" else "table"
            con.execute(f"drop {kind} if exists {_relation(manifest, uid)}")
        con.execute("checkpoint")
        hook_seconds = _execute_all(con, hooks)
        model_seconds = _execute_all(con, [
            f"create or replace {'view' if materialized == 'view' else 'table'} "
            f"{_relation(manifest, uid)} as (\n{sql}\n)"
            for uid, materialized, sql in models
        ])
        started = time.perf_counter()
        con.execute("checkpoint")
        model_seconds += time.perf_counter() - started
        test_seconds = _execute_all(con, [f"select count(*) from (\n{sql}\n) as test_rows"
                                          for sql in tests])
    shutil.rmtree(work_dir)
    return {"seconds": hook_seconds + model_seconds, "hook_seconds": hook_seconds,
            "model_seconds": model_seconds, "test_seconds": test_seconds,
            "models": len(models), "python_models": len(python_models(manifest)),
            "tests": len(tests)}


def main(argv: list[str] | None = None) -> int:
    """Command line of the floor subprocess."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("floor", choices=("a", "b"))
    parser.add_argument("--out", type=Path, required=True, help="JSON file for the timings")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-limit", default=DEFAULT_DUCKDB_MEMORY_LIMIT)
    parser.add_argument("--raw-dir", type=Path, help="floor a: raw landing folder")
    parser.add_argument("--format", dest="fmt", default="parquet", help="floor a: csv|parquet")
    parser.add_argument("--db", type=Path, required=True,
                        help="floor a: DuckDB file to write; floor b: the built warehouse")
    parser.add_argument("--manifest", type=Path, help="floor b: dbt's manifest.json")
    parser.add_argument("--work-dir", type=Path, help="floor b: scratch folder for the copy")
    args = parser.parse_args(argv)
    if args.floor == "a":
        result = floor_a(args.raw_dir, args.fmt, args.db, args.threads, args.memory_limit)
    else:
        result = floor_b(args.db, args.manifest, args.work_dir, args.threads, args.memory_limit)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
