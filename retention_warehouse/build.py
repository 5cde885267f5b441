"""`retention build`: the warehouse's main job.

Prepares the bundled sample when it is the raw folder in use, runs the landing
pre-flight (``retention_warehouse.landing``), ``dbt build`` (seeds, models,
snapshots, tests, including the landing guards) and then the Great Expectations
checkpoint, and says where the warehouse file is and how to query it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from retention_warehouse.dbt_runner import WarehouseLockedError, ensure_writable, run_dbt
from retention_warehouse.landing import RawLandingError, check_raw_dir, preflight
from retention_warehouse.settings import (
    SAMPLE_CUSTOMERS,
    SAMPLE_SEED,
    Settings,
    load_settings,
    quality_results_dir,
)

__all__ = ["RawLandingError", "check_raw_dir", "run_build"]

DEFAULT_CURRENCY_VARIABLE = "RETENTION_DEFAULT_CURRENCY"


def prepare_sample(settings: Settings) -> None:
    """Generate the bundled sample when it is the raw folder and is not there yet."""
    if not settings.uses_sample or (settings.raw_dir / "_manifest.json").exists():
        return
    from retention_warehouse.generate import generate

    print(f"Generating the bundled sample ({SAMPLE_CUSTOMERS:,} customers) in {settings.raw_dir}")
    generate(settings.raw_dir, customers=SAMPLE_CUSTOMERS, seed=SAMPLE_SEED, fmt="csv")


def dbt_vars(as_of_date: str | None) -> list[str]:
    """The ``--vars`` argument for a pinned as-of date (nothing when unpinned)."""
    return ["--vars", json.dumps({"as_of_date": as_of_date})] if as_of_date else []


def run_preflight(settings: Settings) -> None:
    """The landing pre-flight for this build; raises RawLandingError with one clear line."""
    preflight(settings.raw_dir, settings.warehouse_path,
              default_currency=bool(os.environ.get(DEFAULT_CURRENCY_VARIABLE)))


def run_build(settings: Settings, as_of_date: str | None = None, quality: bool = True) -> int:
    """Build the warehouse end to end; return a process exit code."""
    started = time.monotonic()
    try:
        prepare_sample(settings)
        run_preflight(settings)
        ensure_writable(settings.warehouse_path)
    except (RawLandingError, WarehouseLockedError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # A build rebuilds from every raw file; incremental runs are `retention refresh`'s job.
    result = run_dbt(settings, ["build", "--full-refresh", *dbt_vars(as_of_date)])
    if result.returncode != 0:
        print("error: dbt build failed (see the messages above).", file=sys.stderr)
        return result.returncode
    if quality:
        from retention_warehouse.quality import run_checkpoint

        report = run_checkpoint(settings.warehouse_path,
                                quality_results_dir(settings.warehouse_path))
        print(report.summary_text())
        if not report.success:
            print("error: the data-quality checkpoint failed.", file=sys.stderr)
            return 1
    elapsed = time.monotonic() - started
    print(
        f"\nWarehouse built in {elapsed:.0f} s: {settings.warehouse_path}\n"
        "Query it read-only, for example:\n"
        f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{settings.warehouse_path}',"
        " read_only=True).sql('select * from marts.fct_retention_kpis limit 5'))\""
    )
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``retention build``."""
    parser.add_argument("--as-of-date", help="pin every calculation to this date (YYYY-MM-DD)")
    parser.add_argument(
        "--skip-quality", action="store_true", help="do not run the Great Expectations checkpoint"
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``retention build``."""
    return run_build(load_settings(), args.as_of_date, quality=not args.skip_quality)
