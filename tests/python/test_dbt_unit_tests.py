"""dbt unit tests (``unit_tests:`` YAML beside the models) run inside ``make test``.

The unit tests mock each model's inputs with small hand-computed rows and check every
branch of the metric logic (states at the churn-window boundaries, S/E/N/L/R, retention
vs strict retention, NPS/CSAT/CES edges, AOV and frequency, CLTV with and without CAC,
tier thresholds, refund netting, FX conversion, timestamp parsing and safe casts). dbt
needs the upstream relations to exist to type the fixtures: the session warehouse has
them.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import duckdb
from conftest import PROJECT_DIR, BuiltWarehouse

MIN_UNIT_TESTS = 15

# Every model whose logic docs/metrics.md defines must carry at least one unit test.
MODELS_WITH_UNIT_TESTS = {
    "base_transactions__transactions",  # timestamp formats, safe cast, row checks
    "int_transactions_linked",  # FX, versions, refund rules
    "stg_reference__fx_rates",  # FX rate through the reporting currency
    "int_orders_netted",  # refunds, cancellations, purchase sequence
    "int_customers_periods_stated",  # states at W - 1, W, W + 1; new / reactivated / closed
    "int_customers_months_tiered",  # tier thresholds, up- and downgrades
    "fct_retention_kpis",  # S/E/N/L/R, rates, AOV, frequency, NPS/CSAT/CES
    "fct_survey_responses",  # promoter / passive / detractor, satisfied, customers' answers
    "fct_cohort_retention",  # k = 0, unbounded retention, revenue retention
    "fct_customer_lifetime_value",  # CLTV with and without CAC
    "fct_lifetime_value_segments",  # predicted CLTV
    "dim_customers",  # lifecycle segment, current status
    "int_customers_rfm_scored",  # purchase days, x / t_x / T, RFM score ties, segment rules
}


def test_unit_tests_pass(warehouse: BuiltWarehouse) -> None:
    """The session's ``dbt build`` ran every unit test of the project and each passed (its
    run results, kept as the build left them; dbt build runs unit tests before models)."""
    run_results = warehouse.build_run_results
    unit = [r for r in run_results["results"] if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= MIN_UNIT_TESTS, f"only {len(unit)} unit tests ran"
    failed = [r["unique_id"] for r in unit if r["status"] != "pass"]
    assert not failed, f"unit tests not passing: {failed}"
    defined = set(json.loads(warehouse.build_manifest_path.read_text())["unit_tests"])
    assert {r["unique_id"] for r in unit} == defined, "a unit test of the project did not run"


def test_unit_tests_cover_the_metric_models(warehouse: BuiltWarehouse) -> None:
    """Each metric model has unit tests, defined in its folder's _<folder>__unit_tests.yml."""
    unit_tests = warehouse.dbt_manifest["unit_tests"].values()
    tested = {test["model"] for test in unit_tests}
    missing = MODELS_WITH_UNIT_TESTS - tested
    assert not missing, f"models without unit tests: {sorted(missing)}"
    for test in unit_tests:
        path = Path(test["original_file_path"])
        folder = path.parent.name
        assert path.name == f"_{folder}__unit_tests.yml", (
            f"unit test {test['name']} is defined in {path}, expected "
            f"{path.parent}/_{folder}__unit_tests.yml")


def load_mutation_check() -> ModuleType:
    """scripts/mutation_check.py as a module."""
    path = PROJECT_DIR / "scripts" / "mutation_check.py"
    spec = importlib.util.spec_from_file_location("mutation_check", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_check"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def test_mutation_runner_kills_a_mutation(warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """scripts/mutation_check.py, on a copy of the project with strict retention used as
    retention, reports the retention unit test as failing (the same unit test passes on
    the real project in test_unit_tests_pass, so the kill is the mutation's doing)."""
    mc = load_mutation_check()
    mutation = next(m for m in mc.MUTATIONS if m.name == "strict_retention_as_retention")
    project = mc.copy_project(tmp_path / "project")
    mc.apply_mutation(project, mutation)
    assert "customers_at_end - new_customers" not in (project / mutation.path).read_text()
    assert "customers_at_end - new_customers" in (PROJECT_DIR / mutation.path).read_text()
    db_path = tmp_path / "db" / warehouse.db_path.name
    mc.copy_database(warehouse.db_path, db_path)
    outcome = mc.run_checks(project, db_path, warehouse.raw_dir, tmp_path, mutation.select,
                            expected=None)
    assert outcome.killed and not outcome.build_failed, outcome
    assert any("ut_retention_kpis_counts_rates_and_orders" in u for u in outcome.unit_tests), (
        f"the retention unit test did not catch the mutation: {outcome}")
    with duckdb.connect(str(db_path), read_only=True) as con:
        mutated = con.execute(
            "select count(*) from marts.fct_retention_kpis"
            " where customer_retention_rate != strict_retention_rate").fetchone()[0]
    assert mutated == 0, "the mutated model was not rebuilt in the copy"


def test_oracle_alone_kills_a_mart_mutation(warehouse: BuiltWarehouse, tmp_path: Path) -> None:
    """A mutation of mart SQL no dbt test catches (current_tier_since from the acquisition
    month) is caught by the oracle comparison, and only by it: the unmutated copy agrees
    with the oracle, the mutated one differs in dim_customers alone."""
    mc = load_mutation_check()
    mutation = next(m for m in mc.MUTATIONS if m.name == "tier_since_acquisition")
    expected = mc.expected_marts(warehouse.raw_dir, warehouse.db_path)
    assert mc.oracle_differences(warehouse.db_path, expected) == []
    project = mc.copy_project(tmp_path / "project")
    mc.apply_mutation(project, mutation)
    db_path = tmp_path / "db" / warehouse.db_path.name
    mc.copy_database(warehouse.db_path, db_path)
    outcome = mc.run_checks(project, db_path, warehouse.raw_dir, tmp_path, mutation.select,
                            expected=expected)
    assert not outcome.build_failed and not outcome.unit_tests and not outcome.data_tests, (
        f"a dbt test caught it too, so it does not prove the oracle: {outcome}")
    assert outcome.oracle == ["dim_customers"], outcome
    with duckdb.connect(str(db_path), read_only=True) as con:
        moved = con.execute("select count(*) from marts.dim_customers"
                            " where current_tier_since != acquisition_cohort").fetchone()[0]
    assert moved == 0, "the mutated dim_customers was not rebuilt in the copy"
