"""`retention build`: the warehouse's main job.

Prepares the bundled sample when it is the raw folder in use, runs the landing
pre-flight (``retention_warehouse.landing``), ``dbt build`` (seeds, models,
snapshots, tests, including the landing guards) and then the Great Expectations
checkpoint, and says where the warehouse file is and how to query it.

Every way it can fail ends in one line on stderr and a non-zero exit code: a bad
raw folder or file (exit 2), a missing RETENTION_HASH_KEY (2), a warehouse file
that is locked, read-only, not permitted or carries a stale write-ahead log (2),
a refresh of the same warehouse running (3), a full disk (2), dbt failing (its
own code, with the cause in one line when it is the machine's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

from retention_warehouse.dbt_runner import (
    WarehouseLockedError,
    WarehouseUnusableError,
    ensure_writable,
    run_dbt,
)
from retention_warehouse.failures import (
    describe_dbt_failure,
    describe_os_error,
    is_input_failure,
)
from retention_warehouse.landing import RawLandingError, check_raw_dir, preflight
from retention_warehouse.pii import HashKeyError, resolve_hash_key
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
    try:
        generate(settings.raw_dir, customers=SAMPLE_CUSTOMERS, seed=SAMPLE_SEED, fmt="csv")
    except BaseException:
        shutil.rmtree(settings.raw_dir, ignore_errors=True)  # no half-written sample stays
        raise


def dbt_vars(as_of_date: str | None) -> list[str]:
    """The ``--vars`` argument for a pinned as-of date (nothing when unpinned)."""
    return ["--vars", json.dumps({"as_of_date": as_of_date})] if as_of_date else []


def run_preflight(settings: Settings) -> None:
    """The landing pre-flight for this build; raises RawLandingError with one clear line."""
    preflight(settings.raw_dir, settings.warehouse_path,
              default_currency=bool(os.environ.get(DEFAULT_CURRENCY_VARIABLE)))


def run_build(settings: Settings, as_of_date: str | None = None, quality: bool = True) -> int:
    """Build the warehouse end to end; return a process exit code."""
    from retention_warehouse.refresh import RefreshLockedError, refresh_lock

    try:
        # A refresh swaps the file this build writes in place: one at a time.
        with refresh_lock(settings.warehouse_path):
            return _build(settings, as_of_date, quality)
    except RefreshLockedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except OSError as error:
        print(f"error: {describe_os_error(error, 'building the warehouse')}", file=sys.stderr)
        return 2


def _build(settings: Settings, as_of_date: str | None, quality: bool) -> int:
    started = time.monotonic()
    try:
        prepare_sample(settings)
        run_preflight(settings)
        resolve_hash_key(settings.raw_dir)
        ensure_writable(settings.warehouse_path)
    except (RawLandingError, HashKeyError, WarehouseLockedError,
            WarehouseUnusableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # A build rebuilds from every raw file; incremental runs are `retention refresh`'s job.
    result = run_dbt(settings, ["build", "--full-refresh", *dbt_vars(as_of_date)])
    if result.returncode != 0:
        cause = describe_dbt_failure(result.stdout, settings.warehouse_path,
                                     "dbt wrote the warehouse")
        print(f"error: dbt build failed: {cause}" if cause else
              "error: dbt build failed (see the messages above).", file=sys.stderr)
        return 2 if is_input_failure(result.stdout) else result.returncode
    if quality:
        from retention_warehouse.quality import run_checkpoint

        report = run_checkpoint(settings.warehouse_path,
                                quality_results_dir(settings.warehouse_path), as_of_date,
                                settings.raw_dir)
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
