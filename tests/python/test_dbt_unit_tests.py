"""dbt unit tests (``unit_tests:`` YAML beside the models) run inside ``make test``.

The unit tests mock each model's inputs with small hand-computed rows and check every
branch of the metric logic (states at the churn-window boundaries, S/E/N/L/R, retention
vs strict retention, NPS/CSAT/CES edges, AOV and frequency, CLTV with and without CAC,
tier thresholds, refund netting, FX conversion, timestamp parsing and safe casts). dbt
needs the upstream relations to exist to type the fixtures: the session warehouse has
them.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import BuiltWarehouse

MIN_UNIT_TESTS = 14

# Every model whose logic METRICS.md defines must carry at least one unit test.
MODELS_WITH_UNIT_TESTS = {
    "base_transactions__transactions",  # timestamp formats, safe cast, FX, refund rules
    "stg_reference__fx_rates",  # FX rate through the reporting currency
    "int_orders_netted",  # refunds, cancellations, purchase sequence
    "int_customers_periods_stated",  # states at W - 1, W, W + 1; new / reactivated / closed
    "int_customers_months_tiered",  # tier thresholds, up- and downgrades
    "fct_retention_kpis",  # S/E/N/L/R, rates, AOV, frequency, NPS/CSAT/CES
    "fct_cohort_retention",  # k = 0, unbounded retention, revenue retention
    "fct_customer_lifetime_value",  # CLTV with and without CAC
    "fct_lifetime_value_segments",  # predicted CLTV
    "dim_customers",  # lifecycle segment, current status
}


def test_unit_tests_pass(warehouse: BuiltWarehouse) -> None:
    """``dbt test --select test_type:unit`` succeeds and runs every unit test."""
    result = warehouse.dbt("test", "--select", "test_type:unit")
    assert result.returncode == 0, f"dbt unit tests failed:\n{result.stdout[-8000:]}"
    run_results = json.loads((warehouse.target_dir / "run_results.json").read_text())
    unit = [r for r in run_results["results"] if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= MIN_UNIT_TESTS, f"only {len(unit)} unit tests ran"
    failed = [r["unique_id"] for r in unit if r["status"] != "pass"]
    assert not failed, f"unit tests not passing: {failed}"


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
