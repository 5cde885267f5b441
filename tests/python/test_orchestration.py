"""Dagster: the definitions load, the schedule asks for a valid run, and a materialisation
in-process builds and publishes a temporary warehouse with dbt tests as asset checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import PROJECT_DIR

from retention_warehouse.generate import generate
from retention_warehouse.settings import Settings

CUSTOMERS = 1_000
THROUGH = "2025-12-20"


@pytest.fixture(scope="module")
def dagster_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A temporary DAGSTER_HOME, raw folder and (not yet built) warehouse."""
    root = tmp_path_factory.mktemp("dagster")
    (root / "home").mkdir()
    generate(root / "raw", customers=CUSTOMERS, seed=42, fmt="csv")
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "DBT_TARGET_PATH", "DBT_LOG_PATH",
                                            "DBT_EXCLUDE_RESOURCE_TYPES")}
    os.environ["DAGSTER_HOME"] = str(root / "home")
    # dbt's unit tests mock their inputs (the same result on any data; the session build and
    # test_dbt_unit_tests.py run them) and are no asset checks: the materialisation leaves
    # them out and runs every model, snapshot, seed and data test.
    os.environ["DBT_EXCLUDE_RESOURCE_TYPES"] = "unit_test"
    os.environ.pop("DBT_TARGET_PATH", None)
    os.environ.pop("DBT_LOG_PATH", None)
    os.environ["DAGSTER_DISABLE_TELEMETRY"] = "1"
    yield Settings(project_dir=PROJECT_DIR, warehouse_path=root / "wh.duckdb",
                   raw_dir=root / "raw", raw_format="csv", dbt_threads=2)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def definitions(dagster_env: Settings) -> dg.Definitions:
    from retention_warehouse.orchestration import build_definitions

    return build_definitions(dagster_env)


def test_definitions_load_with_models_checks_and_schedule(definitions: dg.Definitions) -> None:
    from retention_warehouse.orchestration import JOB_NAME

    graph = definitions.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"marts/fct_orders", "marts/fct_retention_kpis",
            "intermediate/int_transactions_linked", "snapshots/snap_customer_tiers",
            "transactions/transactions"} <= keys
    checks = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert ("transactions/transactions", "source_freshness") in checks
    assert any(asset == "marts/fct_orders" and "unique" in name for asset, name in checks)
    job = definitions.resolve_job_def(JOB_NAME)
    assert job is not None
    assert definitions.resolve_schedule_def("daily_refresh_schedule").cron_schedule == "0 6 * * *"


def test_schedule_requests_a_valid_refresh_of_the_previous_day(
        definitions: dg.Definitions) -> None:
    from retention_warehouse.orchestration import DBT_ASSETS_OP, JOB_NAME

    schedule = definitions.resolve_schedule_def("daily_refresh_schedule")
    when = datetime(2025, 12, 21, 6, 0, tzinfo=timezone.utc)  # noqa: UP017
    with dg.build_schedule_context(scheduled_execution_time=when) as context:
        request = schedule.evaluate_tick(context).run_requests[0]
    assert request.run_config["ops"][DBT_ASSETS_OP]["config"]["through"] == "2025-12-21"
    job = definitions.resolve_job_def(JOB_NAME)
    assert dg.validate_run_config(job, request.run_config)


def test_materialise_builds_and_publishes_with_asset_checks(
        definitions: dg.Definitions, dagster_env: Settings) -> None:
    from retention_warehouse.orchestration import DBT_ASSETS_OP, FRESHNESS_OP, JOB_NAME

    config = {"config": {"through": THROUGH}}
    job = definitions.resolve_job_def(JOB_NAME)
    result = job.execute_in_process(
        run_config={"ops": {DBT_ASSETS_OP: config, FRESHNESS_OP: config}},
        instance=dg.DagsterInstance.get(), raise_on_error=False)
    assert result.success, [e.message for e in result.all_events if e.is_failure]

    materialised = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert {"marts/fct_orders", "marts/dim_customers",
            "snapshots/snap_customer_tiers"} <= materialised
    checks = result.get_asset_check_evaluations()
    dbt_checks = [c for c in checks if c.check_name != "source_freshness"]
    assert len(dbt_checks) > 50 and all(c.passed for c in dbt_checks)
    freshness = [c for c in checks if c.check_name == "source_freshness"]
    assert len(freshness) == 6 and all(c.metadata["status"].value in ("pass", "warn", "error")
                                       for c in freshness)

    published: Path = dagster_env.warehouse_path
    with duckdb.connect(str(published), read_only=True) as con:
        as_of = con.execute("select as_of_date from intermediate.int_as_of_dates_resolved")
        assert str(as_of.fetchone()[0]) == "2025-12-19"
        assert con.execute("select count(*) from marts.fct_orders").fetchone()[0] > 0
    assert not (published.parent / f".{published.stem}.refresh").exists()
