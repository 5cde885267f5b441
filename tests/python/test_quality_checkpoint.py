"""The Great Expectations checkpoint (`retention quality`) passes on the sample
warehouse and fails, naming the broken expectation, when a mart is corrupted.

Corruptions are applied to a copy of the session warehouse (same file name: the
staging views name the database after the file), never to the original.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import PROJECT_DIR, BuiltWarehouse

from retention_warehouse.oracle import Landing, Params
from retention_warehouse.oracle.states import Model
from retention_warehouse.quality import checkpoint, command, run_checkpoint
from retention_warehouse.quality.report import SUMMARY_FILE, VALIDATION_FILE


@pytest.fixture(scope="module", autouse=True)
def oracle_once_per_input() -> Iterator[None]:
    """The checkpoint's expected values, computed once per distinct input in this module.

    Every corruption here changes a mart of a copy, never the raw files, the landing record
    or the run parameters the oracle recomputes the marts from, so each in-process
    checkpoint would recompute the very same expected marts. ``build_model`` and
    ``compute_marts`` are memoised on their full arguments (the raw folder, seeds, run
    parameters, landing record, fitted value-model parameters): another input is computed
    afresh; every comparison and expectation still runs on each copy.
    """
    models: dict[tuple, Model] = {}
    marts: dict[tuple, dict[str, pd.DataFrame]] = {}
    build_model, compute_marts = checkpoint.build_model, checkpoint.compute_marts

    def build_model_once(folder: Path, seeds: Path, params: Params,
                         landing: Landing | None = None) -> Model:
        key = (str(folder), str(seeds), repr(params), repr(landing))
        if key not in models:
            models[key] = build_model(folder, seeds, params, landing)
        return models[key]

    def compute_marts_once(model: Model,
                           value_model: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
        fitted = (None if value_model is None
                  else value_model.to_json(orient="split", date_format="iso"))
        key = (id(model), fitted)
        if key not in marts:
            marts[key] = compute_marts(model, value_model)
        return {name: frame.copy(deep=True) for name, frame in marts[key].items()}

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpoint, "build_model", build_model_once)
        patch.setattr(checkpoint, "compute_marts", compute_marts_once)
        yield


def corrupted_copy(warehouse: BuiltWarehouse, root: Path, sql: str) -> Path:
    """A copy of the warehouse file with one statement applied to it."""
    copy = root / "corrupted" / warehouse.db_path.name
    copy.parent.mkdir(parents=True)
    shutil.copy2(warehouse.db_path, copy)
    with duckdb.connect(str(copy)) as con:
        changed = con.execute(sql).fetchone()[0]
    assert changed >= 1, f"the corruption changed no row: {sql}"
    return copy


def test_checkpoint_passes_on_the_sample_warehouse(warehouse: BuiltWarehouse,
                                                   tmp_path: Path) -> None:
    results = tmp_path / "results"
    process = subprocess.run(
        [sys.executable, "-m", "retention_warehouse.cli", "quality",
         "--db", str(warehouse.db_path), "--results", str(results)],
        cwd=PROJECT_DIR, env=warehouse.env, capture_output=True, text=True, check=False,
    )
    assert process.returncode == 0, process.stdout + process.stderr
    assert "PASSED" in process.stdout
    documents = json.loads((results / VALIDATION_FILE).read_text())
    suites = {document["suite_name"] for document in documents}
    assert {"fct_retention_kpis__vs_expected", "fct_cohort_retention__vs_expected",
            "fct_customer_lifetime_value__vs_expected", "dim_customers__structure"} <= suites
    assert all(document["success"] for document in documents)
    evaluated = sum(len(document["results"]) for document in documents)
    assert evaluated >= 150
    assert "PASS  fct_retention_kpis__vs_expected" in (results / SUMMARY_FILE).read_text()


CORRUPTIONS = {
    # The as-of date is derived from the raw files and the vars, never read from a mart:
    # a mart that reports another as-of date fails the comparison.
    "as-of date of the marts": (
        "update marts.dim_customers set as_of_date = as_of_date - 1",
        "dim_customers__vs_expected: expect_column_pair_values_to_be_equal("
        "as_of_date, as_of_date__expected)",
    ),
    "churn rate of one period": (
        "update marts.fct_retention_kpis set churn_rate = churn_rate + 0.5 "
        "where kpi_id = (select min(kpi_id) from marts.fct_retention_kpis "
        "where segment_type = 'total' and churn_rate is not null)",
        "fct_retention_kpis__vs_expected: expect_column_values_to_be_between(churn_rate__error)",
    ),
    "cohort active count": (
        "update marts.fct_cohort_retention set active_customers = active_customers - 1 "
        "where cohort_period_id = (select min(cohort_period_id) from marts.fct_cohort_retention "
        "where cohort_type = 'acquisition' and period_number = 3 and active_customers > 0)",
        "fct_cohort_retention__vs_expected: expect_column_pair_values_to_be_equal("
        "active_customers, active_customers__expected)",
    ),
    "P(alive) of one customer": (
        "update marts.fct_customer_predictions set p_alive = p_alive / 2 "
        "where customer_key = (select min(customer_key) from marts.fct_customer_predictions "
        "where p_alive > 0.2 and frequency > 0)",
        "fct_customer_predictions__vs_expected: expect_column_values_to_be_between("
        "p_alive__error)",
    ),
    "last purchase before first": (
        "update marts.dim_customers set last_purchase_date = first_purchase_date - 1 "
        "where customer_key = (select min(customer_key) from marts.dim_customers "
        "where not is_lead)",
        "dim_customers__structure: expect_column_pair_values_a_to_be_greater_than_b("
        "last_purchase_date, first_purchase_date)",
    ),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_checkpoint_fails_on_a_corrupted_mart(warehouse: BuiltWarehouse, tmp_path: Path,
                                              corruption: str) -> None:
    sql, failing = CORRUPTIONS[corruption]
    copy = corrupted_copy(warehouse, tmp_path, sql)
    report = run_checkpoint(copy, tmp_path / "results")
    assert report.success is False
    summary = report.summary_text()
    assert "FAILED" in summary
    assert failing in summary, summary
    assert failing in (tmp_path / "results" / SUMMARY_FILE).read_text()


def test_orders_row_removed_fails_presence_and_row_count(
        warehouse: BuiltWarehouse, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # fct_orders is a view over int_orders_netted: remove the row where it is stored.
    copy = corrupted_copy(warehouse, tmp_path, (
        "delete from intermediate.int_orders_netted where order_id = "
        "(select max(order_id) from marts.fct_orders where is_purchase)"))
    exit_code = command.run(argparse.Namespace(db=copy, results=None))
    assert exit_code == 1
    printed = capsys.readouterr().out
    assert "fct_orders__vs_expected: expect_column_values_to_be_in_set(row_presence)" in printed
    assert "fct_orders__structure: expect_table_row_count_to_equal()" in printed
    # results go beside the warehouse file, so two warehouses never overwrite each other's
    assert (copy.parent / f"{copy.name}.quality" / SUMMARY_FILE).is_file()


def emptied_copy(warehouse: BuiltWarehouse, root: Path, schemas: tuple[str, ...]) -> Path:
    """A copy of the warehouse with every table of the given schemas emptied."""
    copy = root / "emptied" / warehouse.db_path.name
    copy.parent.mkdir(parents=True)
    shutil.copy2(warehouse.db_path, copy)
    with duckdb.connect(str(copy)) as con:
        tables = con.execute("select schema_name, table_name from duckdb_tables() where "
                             f"schema_name in {schemas!r}".replace(",)", ")")).fetchall()
        for schema, table in tables:
            con.execute(f"delete from {schema}.{table}")
    return copy


@pytest.mark.parametrize("schemas", [("marts",), ("marts", "staging", "intermediate", "raw")],
                         ids=["empty_marts", "empty_everything"])
def test_checkpoint_reports_failed_expectations_on_an_empty_warehouse(
        warehouse: BuiltWarehouse, tmp_path: Path, schemas: tuple[str, ...]) -> None:
    """An empty (or emptied) warehouse never crashes the checkpoint: it fails, by name."""
    copy = emptied_copy(warehouse, tmp_path, schemas)
    report = run_checkpoint(copy, tmp_path / "results")
    assert report.success is False and report.error is None
    failed = {outcome.suite for outcome in report.failures}
    assert "marts_not_empty" in failed
    summary = report.summary_text()
    assert "FAIL  marts_not_empty: expect_column_values_to_be_between(rows)" in summary
    if "raw" in schemas:  # no landing record, no raw file to recompute from: said, not raised
        assert "FAIL  expected_values: expect_column_values_to_be_in_set(outcome)" in summary
        assert "names no raw file" in summary
    else:  # the raw files are still there: every mart misses its rows
        assert "fct_retention_kpis__vs_expected" in failed


def test_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    report = run_checkpoint(tmp_path / "nowhere.duckdb", tmp_path / "results")
    assert report.success is False
    assert "does not exist" in report.summary_text()
    exit_code = command.run(argparse.Namespace(db=tmp_path / "nowhere.duckdb",
                                               results=tmp_path / "results"))
    assert exit_code == 2
