"""Dagster definitions: the dbt project as assets, its tests as checks, a daily refresh.

* every dbt model, seed and snapshot is a Dagster asset (``dagster-dbt``), and
  every dbt data test an asset check on the asset it tests;
* materialising them is a write-audit-publish refresh (``retention_warehouse.refresh``):
  dbt builds into a staging copy and the copy replaces the published warehouse
  only when every model and test passed;
* ``source_freshness`` checks each raw source with ``dbt source freshness``;
* the ``daily_refresh`` schedule runs both every morning (06:00 UTC) with the
  as-of date pinned to the previous day.

Start the UI locally (see README.md)::

    DAGSTER_HOME=$PWD/.dagster_home .venv/bin/dagster dev -m retention_warehouse.orchestration

The definitions are built lazily (``@dg.definitions``), so importing this
module parses nothing; building them runs ``dbt parse`` once when the manifest
is missing.
"""

# No `from __future__ import annotations`: Dagster reads the config class from the
# op's real annotations.
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
from dagster_dbt import (
    DbtCliResource,
    dbt_assets,
    get_asset_keys_by_output_name_for_source,
)

from retention_warehouse.dbt_runner import dbt_executable, run_dbt
from retention_warehouse.refresh import (
    RefreshError,
    as_of_env,
    build_args,
    check_freshness,
    dbt_paths,
    refresh_lock,
    staged_warehouse,
)
from retention_warehouse.settings import Settings, dbt_environment, load_settings

JOB_NAME = "daily_refresh"
DBT_ASSETS_OP = "retention_dbt_assets"
FRESHNESS_OP = "source_freshness"


class RefreshConfig(dg.Config):
    """Run configuration shared by the dbt assets and the freshness checks."""

    through: str = ""  # data complete before this day (YYYY-MM-DD); empty = last loaded date
    full_refresh: bool = False


def as_of_date(config: RefreshConfig) -> str | None:
    """The pinned as-of date: the day before ``through`` (None when not given)."""
    if not config.through:
        return None
    return (date.fromisoformat(config.through) - timedelta(days=1)).isoformat()


def ensure_manifest(settings: Settings) -> Path:
    """dbt's manifest for the asset graph, parsed once beside the warehouse."""
    target = Path(dbt_paths(settings.warehouse_path)["DBT_TARGET_PATH"])
    manifest = target / "manifest.json"
    if not manifest.exists():
        result = run_dbt(settings, ["parse"], extra_env=dbt_paths(settings.warehouse_path),
                         capture=True)
        if result.returncode != 0 or not manifest.exists():
            raise RefreshError("dbt parse failed:\n" + result.stdout[-3000:] + result.stderr)
    return manifest


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Temporarily set environment variables (dbt reads its paths from them)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The Definitions for one warehouse (default: the one the environment points at)."""
    settings = settings or load_settings()
    manifest = ensure_manifest(settings)

    @dbt_assets(manifest=manifest, name=DBT_ASSETS_OP,
                exclude="resource_type:saved_query")
    def retention_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource,
                             config: RefreshConfig):  # noqa: ANN202 - a generator of events
        with refresh_lock(settings.warehouse_path), \
                staged_warehouse(settings, config.full_refresh) as staged:
            context.log.info(f"{staged.mode} refresh: {staged.why}")
            env = dbt_environment(staged.settings, {**staged.env,
                                                    **as_of_env(as_of_date(config))})
            with environment(env):
                # Every selected asset and check runs (Dagster expects them all).
                invocation = dbt.cli(build_args(staged.mode, daily_selection=False),
                                     context=context)
                yield from invocation.stream()

    # "<source>.<table>" (as dbt source freshness names them) -> the source's asset key
    source_keys = {
        ".".join(key.path): key
        for source in ("crm", "transactions", "surveys", "marketing")
        for key in get_asset_keys_by_output_name_for_source(
            [retention_dbt_assets], source).values()
    }

    @dg.multi_asset_check(
        name=FRESHNESS_OP,
        specs=[dg.AssetCheckSpec("source_freshness", asset=key,
                                 description=f"dbt source freshness of {name}")
               for name, key in source_keys.items()],
    )
    def source_freshness(context: dg.AssetCheckExecutionContext,
                         config: RefreshConfig):  # noqa: ANN202 - a generator of results
        # The freshness query only needs the raw views the on-run-start hook
        # creates, so it runs in a throwaway DuckDB file, never the published one.
        with tempfile.TemporaryDirectory() as folder:
            probe = Settings(project_dir=settings.project_dir,
                             warehouse_path=Path(folder) / settings.warehouse_path.name,
                             raw_dir=settings.raw_dir, raw_format=settings.raw_format,
                             dbt_threads=settings.dbt_threads)
            env = {"DBT_TARGET_PATH": f"{folder}/target", "DBT_LOG_PATH": f"{folder}/logs"}
            statuses = check_freshness(probe, as_of_date(config), Path(folder), env)
        for name, key in source_keys.items():
            status = statuses.get(name, "missing")
            yield dg.AssetCheckResult(
                asset_key=key, check_name="source_freshness", passed=status != "error",
                severity=dg.AssetCheckSeverity.WARN if status == "warn"
                else dg.AssetCheckSeverity.ERROR,
                metadata={"status": status})

    job = dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.assets(retention_dbt_assets)
        | dg.AssetSelection.checks(source_freshness),
    )

    @dg.schedule(job=job, cron_schedule="0 6 * * *", execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.STOPPED)
    def daily_refresh_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        through = context.scheduled_execution_time.date().isoformat()
        config = {"config": {"through": through}}
        return dg.RunRequest(run_key=through, run_config={
            "ops": {DBT_ASSETS_OP: config, FRESHNESS_OP: config}})

    dbt = DbtCliResource(project_dir=str(settings.project_dir),
                         profiles_dir=str(settings.project_dir),
                         dbt_executable=dbt_executable())
    return dg.Definitions(assets=[retention_dbt_assets], asset_checks=[source_freshness],
                          jobs=[job], schedules=[daily_refresh_schedule],
                          resources={"dbt": dbt})


@dg.definitions
def defs() -> dg.Definitions:
    """Entry point for ``dagster dev -m retention_warehouse.orchestration``."""
    return build_definitions()
