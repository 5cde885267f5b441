"""Portability: the same dbt project builds and passes on Apache Spark, with the same marts.

One generated sample (300 customers) is built twice: by DuckDB (the ``dev`` target) and by
``dbt build --target spark`` (dbt-spark's in-process ``session`` method: a local Spark
driver, plain Parquet tables and a Derby metastore in a temporary folder). The landing
hook reads the raw CSV files in place on both engines (on Spark as external tables over
the files, macros/adapters/spark/landing.sql). Both builds run with the value models off
(RETENTION_VALUE_MODELS=off): they are dbt Python models that only DuckDB runs, so on
both sides dim_customers' p_alive / predicted_clv_12m are NULL and the prediction marts
are not built (docs/predictions.md). The tests prove:

* every seed, model, unit test and data test of the Spark build passed (the snapshot is
  disabled on Spark: dbt-spark snapshots need Delta/Iceberg/Hudi tables);
* every mart (schema ``marts``) holds exactly the DuckDB rows: counts, text, dates and
  booleans equal, decimals exactly, doubles within 1e-9;
* the comparison itself finds a single changed cell;
* the independent Python oracle (retention_warehouse.oracle, recomputed from the raw
  files) agrees with every Spark mart it compares, and finds one changed count.

The build is measured as the bench measures (retention_warehouse.bench.process): wall
time and the peak resident memory of dbt plus the Spark driver JVM.

Marked ``spark``: ``make test-spark`` runs only these; ``make test`` runs them too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import PROJECT_DIR, BuiltWarehouse, make_warehouse
from engine_compare import mart_differences

from retention_warehouse.bench.process import measure
from retention_warehouse.dbt_runner import dbt_executable
from retention_warehouse.oracle import COMPARE_SPECS, compare_frames, compute_oracle
from retention_warehouse.pii import HASH_KEY_VARIABLE, resolve_hash_key

pytestmark = pytest.mark.spark

SPARK_CUSTOMERS = 300
PASSED = {"success", "pass"}
NO_VALUE_MODELS = {"RETENTION_VALUE_MODELS": "off"}
# Built by dbt Python models, off on both sides here (the module docstring).
PREDICTION_MARTS = ("fct_customer_predictions", "fct_customer_value_model")


@dataclass
class SparkBuild:
    """The sample built by DuckDB and by Spark, and the Spark marts read back."""

    duck: BuiltWarehouse
    spark_dir: Path
    target_dir: Path
    build: subprocess.CompletedProcess[str]
    build_seconds: float
    peak_rss_mib: float
    marts: dict[str, tuple[list[str], list[tuple]]]


def _spark_session(spark_dir: Path) -> Any:
    """A Spark session on the build's warehouse and metastore (as profiles.yml sets them)."""
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.enableHiveSupport()
        .config("spark.master", "local[2]")
        .config("spark.sql.warehouse.dir", f"{spark_dir}/warehouse")
        .config("spark.driver.extraJavaOptions",
                f"-Dderby.system.home={spark_dir}/derby -Duser.timezone=UTC")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def _read_spark_marts(spark_dir: Path,
                      names: list[str]) -> dict[str, tuple[list[str], list[tuple]]]:
    """Every mart's (columns, rows); timestamps as UTC wall time (timestamp_ntz)."""
    session = _spark_session(spark_dir)
    try:
        result = {}
        for name in names:
            frame = session.table(f"marts.{name}")
            select = [
                f"cast(`{field.name}` as timestamp_ntz) as `{field.name}`"
                if field.dataType.typeName() == "timestamp" else f"`{field.name}`"
                for field in frame.schema.fields
            ]
            rows = session.sql(f"select {', '.join(select)} from marts.{name}").collect()
            result[name] = (frame.columns, [tuple(row) for row in rows])
        return result
    finally:
        session.stop()


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkBuild]:
    """One DuckDB and one Spark build of the same 300-customer sample."""
    root = tmp_path_factory.mktemp("spark")
    duck = make_warehouse(root / "duckdb", customers=SPARK_CUSTOMERS, build=False)
    duck.dbt("build", env=NO_VALUE_MODELS, check=True)
    spark_dir = root / "spark"
    target_dir = root / "spark_target"
    env = {**duck.env, **NO_VALUE_MODELS, "DBT_TARGET": "spark",
           "RETENTION_SPARK_DIR": str(spark_dir), "DBT_TARGET_PATH": str(target_dir),
           "DBT_LOG_PATH": str(root / "spark_logs"),
           # The key the DuckDB build used, so customer_key comes out the same.
           HASH_KEY_VARIABLE: resolve_hash_key(duck.raw_dir)}
    # The bench's measurement: wall time and the peak resident memory of the whole process
    # tree (dbt and the Spark driver JVM it starts), sampled from /proc.
    measured = measure([dbt_executable(), "build"], root / "spark_build.log", cwd=PROJECT_DIR,
                       env=env)
    build = subprocess.CompletedProcess(["dbt", "build"], measured.returncode,
                                        measured.log_tail(200_000), "")
    seconds, peak = measured.seconds, measured.peak_rss_bytes / 2**20
    print(f"\ndbt build --target spark on {SPARK_CUSTOMERS} customers: {seconds:.1f} s,"
          f" peak RSS of dbt + JVM {peak:.0f} MiB")
    names = _mart_names(target_dir) if build.returncode == 0 else []
    marts = _read_spark_marts(spark_dir, names) if names else {}
    yield SparkBuild(duck=duck, spark_dir=spark_dir, target_dir=target_dir, build=build,
                     build_seconds=seconds, peak_rss_mib=peak, marts=marts)
    if os.environ.get("RETENTION_KEEP_SPARK") != "1":
        shutil.rmtree(spark_dir, ignore_errors=True)


def _mart_names(target_dir: Path) -> list[str]:
    manifest = json.loads((target_dir / "manifest.json").read_text())
    return sorted(
        node["alias"] for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
        and node["config"].get("enabled", True)
    )


def _build_failure(build: SparkBuild) -> str:
    return (f"dbt build on Spark failed:\n{build.build.stdout[-8000:]}\n"
            f"{build.build.stderr[-2000:]}")


def test_dbt_build_passes_on_spark(spark: SparkBuild) -> None:
    """Every seed, model, unit test and data test ran and passed."""
    assert spark.build.returncode == 0, _build_failure(spark)
    manifest = json.loads((spark.target_dir / "manifest.json").read_text())
    results = json.loads((spark.target_dir / "run_results.json").read_text())["results"]
    status = {result["unique_id"]: result["status"] for result in results}
    expected = [
        unique_id
        for unique_id, node in {**manifest["nodes"], **manifest.get("unit_tests", {})}.items()
        if node["resource_type"] in {"model", "seed", "snapshot", "test", "unit_test"}
        and node.get("config", {}).get("enabled", True)
    ]
    kinds = {unique_id.split(".")[0] for unique_id in expected}
    assert {"model", "seed", "test", "unit_test"} <= kinds
    not_passed = {u: status.get(u, "not run") for u in expected if status.get(u) not in PASSED}
    assert not not_passed, f"nodes that did not pass on Spark: {not_passed}"


def _duck_mart(build: SparkBuild, name: str) -> tuple[list[str], list[tuple]]:
    with build.duck.connect() as con:
        cursor = con.execute(f"select * from marts.{name}")
        return [d[0] for d in cursor.description], cursor.fetchall()


def test_every_mart_equals_duckdb(spark: SparkBuild) -> None:
    """Each mart has the DuckDB build's rows, cell for cell."""
    assert spark.build.returncode == 0, _build_failure(spark)
    with spark.duck.connect() as con:
        duck_marts = sorted(row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall())
    assert sorted(spark.marts) == duck_marts
    report = {}
    compared_rows = 0
    for name in duck_marts:
        duck_columns, duck_rows = _duck_mart(spark, name)
        compared_rows += len(duck_rows)
        spark_columns, spark_rows = spark.marts[name]
        differences = mart_differences(duck_columns, duck_rows, spark_columns, spark_rows, "Spark")
        if differences:
            report[name] = (len(differences), differences[:5])
    print(f"\n{len(duck_marts)} marts, {compared_rows} rows compared, differences: {report or 0}")
    assert compared_rows > 1000, "too few rows to compare: the sample did not build"
    assert not report, f"marts differing between DuckDB and Spark: {report}"


def test_comparison_catches_one_changed_cell(spark: SparkBuild) -> None:
    """One cell changed in one Spark mart is reported as exactly one difference."""
    assert spark.build.returncode == 0, _build_failure(spark)
    columns, rows = spark.marts["fct_retention_kpis"]
    position = next(i for i, value in enumerate(rows[0]) if isinstance(value, int)
                    and not isinstance(value, bool))
    changed = list(rows)
    changed[0] = rows[0][:position] + (rows[0][position] + 1,) + rows[0][position + 1:]
    duck_columns, duck_rows = _duck_mart(spark, "fct_retention_kpis")
    assert mart_differences(duck_columns, duck_rows, columns, rows, "Spark") == []
    differences = mart_differences(duck_columns, duck_rows, columns, changed, "Spark")
    assert len(differences) == 1, differences
    assert differences[0].startswith(f"{columns[position]}:")


def test_the_oracle_agrees_with_the_spark_marts(spark: SparkBuild) -> None:
    """The independent Python oracle, recomputed from the raw files, matches every Spark mart
    column it compares (the same specs as on DuckDB and PostgreSQL). With the value models
    off, the oracle's P(alive) is None too, so dim_customers is compared whole."""
    assert spark.build.returncode == 0, _build_failure(spark)
    key = resolve_hash_key(spark.duck.raw_dir)  # the key both builds used
    expected = compute_oracle(spark.duck.raw_dir, PROJECT_DIR / "seeds", hash_key=key)
    compared = [table for table in COMPARE_SPECS if table not in PREDICTION_MARTS]
    assert set(compared) <= set(spark.marts), sorted(set(compared) - set(spark.marts))
    problems: list[str] = []
    for table in compared:
        columns, rows = spark.marts[table]
        actual = pd.DataFrame(rows, columns=columns)
        problems += [f"{table}: {d}" for d in
                     compare_frames(expected[table], actual, **COMPARE_SPECS[table])]
    assert not problems, "\n".join(problems[:40])
    # The comparison can fail: one changed count in the Spark KPI mart is found.
    columns, rows = spark.marts["fct_retention_kpis"]
    broken = pd.DataFrame(rows, columns=columns)
    broken.loc[0, "customers_at_start"] = broken.loc[0, "customers_at_start"] + 1
    assert compare_frames(expected["fct_retention_kpis"], broken,
                          **COMPARE_SPECS["fct_retention_kpis"])
