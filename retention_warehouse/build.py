"""`retention build`: the warehouse's main job.

Prepares the bundled sample when it is the raw folder in use, runs ``dbt build``
(seeds, models, snapshots, tests) and then the Great Expectations checkpoint,
and says where the warehouse file is and how to query it.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from retention_warehouse.contract import RAW_TABLES
from retention_warehouse.dbt_runner import WarehouseLockedError, ensure_writable, run_dbt
from retention_warehouse.settings import (
    SAMPLE_CUSTOMERS,
    SAMPLE_SEED,
    Settings,
    load_settings,
    quality_results_dir,
)


class RawLandingError(RuntimeError):
    """The raw landing folder is missing or unreadable."""


def prepare_sample(settings: Settings) -> None:
    """Generate the bundled sample when it is the raw folder and is not there yet."""
    if not settings.uses_sample or (settings.raw_dir / "_manifest.json").exists():
        return
    from retention_warehouse.generate import generate

    print(f"Generating the bundled sample ({SAMPLE_CUSTOMERS:,} customers) in {settings.raw_dir}")
    generate(settings.raw_dir, customers=SAMPLE_CUSTOMERS, seed=SAMPLE_SEED, fmt="csv")


def check_raw_dir(settings: Settings) -> None:
    """Fail with one clear message when the raw landing folder cannot be read."""
    raw = settings.raw_dir
    if not raw.exists():
        raise RawLandingError(
            f"RETENTION_RAW_DIR={raw} does not exist. Point it at a folder of raw "
            "files (see docs/raw_data_contract.md) or unset it to use the bundled sample."
        )
    if not raw.is_dir():
        raise RawLandingError(f"RETENTION_RAW_DIR={raw} is not a folder.")
    try:
        next(raw.iterdir(), None)
    except PermissionError:
        raise RawLandingError(f"RETENTION_RAW_DIR={raw} is not readable.") from None


def file_headers(raw_dir: Path, table: str, raw_format: str) -> dict[Path, list[str]]:
    """Each batch file of one raw table and its column names, read from the file itself."""
    files = sorted((raw_dir / table).glob(f"*.{raw_format}"))
    if raw_format == "parquet":
        import duckdb

        with duckdb.connect() as con:
            return {path: [row[0] for row in con.execute(
                "select name from parquet_schema(?) where num_children is null", [str(path)]
            ).fetchall()] for path in files}
    headers = {}
    for path in files:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            headers[path] = next(csv.reader(handle), [])
    return headers


def check_raw_headers(settings: Settings) -> None:
    """Fail with one message naming the file and the column when a raw file lacks one."""
    for table in RAW_TABLES:
        headers = file_headers(settings.raw_dir, table.name, settings.raw_format)
        if not headers:
            raise RawLandingError(
                f"No {settings.raw_format} files for raw table '{table.name}' in "
                f"{settings.raw_dir / table.name}. See docs/raw_data_contract.md.")
        for path, columns in headers.items():
            present = {column.strip().lower() for column in columns}
            missing = [name for name in table.column_names if name not in present]
            if missing:
                raise RawLandingError(
                    f"{path}: missing column '{missing[0]}' (its header has: "
                    f"{', '.join(columns) or 'nothing'}). Every {table.name} file needs: "
                    f"{', '.join(table.column_names)}. See docs/raw_data_contract.md.")


def dbt_vars(as_of_date: str | None) -> list[str]:
    """The ``--vars`` argument for a pinned as-of date (nothing when unpinned)."""
    return ["--vars", json.dumps({"as_of_date": as_of_date})] if as_of_date else []


def run_build(settings: Settings, as_of_date: str | None = None, quality: bool = True) -> int:
    """Build the warehouse end to end; return a process exit code."""
    started = time.monotonic()
    try:
        prepare_sample(settings)
        check_raw_dir(settings)
        check_raw_headers(settings)
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

        report = run_checkpoint(settings.warehouse_path, quality_results_dir())
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
